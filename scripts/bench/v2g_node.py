"""The csms node of ``scripts/bench/v2g.py``, with a probe: ``csms serve`` as ``csms.node.serve``
runs it (settings from the environment, the garbage collector tuned once started), plus a
control loop on stdin that starts and steers discharge sessions through the node's
``v2g_sessions`` actor and watches the event bus.

    python scripts/bench/v2g_node.py OCPP_PORT

Commands (one a line; each answered by one line ``BENCH {json}`` on stdout):

* ``start FIRST COUNT KW``: StartDischarge for stations ``V2G{i:06d}``, ``i`` in
  ``FIRST .. FIRST+COUNT-1`` (32 at a time), then waits until each session's
  ``v2g.session.updated`` says ``discharging`` (60 s at most).
* ``trace SECONDS`` / ``untrace``: tracemalloc on, and a snapshot ``SECONDS`` later, once what
  runs has allocated its timers and reads again under it / the growth since that snapshot
  (after a full collection) and where it was allocated; then tracemalloc off.
* ``state``: the size of the state one discharge session actor holds (``sys.getsizeof`` over
  the objects reachable from its attributes but from no other session's: the policy state,
  the rest), its mean over every session.
* ``power KW``: ChangePower for every session at once; answered when every session's
  UpdateDynamicSchedule came back (``ocpp.command.response``), 60 s at most.
* ``dump``: the ``v2g.session.updated`` events seen since the last dump: (station, exportedWh,
  seen at, by ``time.perf_counter``).
* ``gc``: a full collection; answered with the number of trio tasks.
* ``profile`` / ``unprofile PATH``: cProfile of the trio thread on / off, its stats to ``PATH``.

End of stdin stops the node.
"""

from __future__ import annotations

import cProfile
import gc
import json
import sys
import time
import tracemalloc
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent.parent))

import attrs  # noqa: E402
import trio  # noqa: E402

from csms.actors.v2g import V2G_SESSIONS, ChangePower, StartDischarge, start_discharge  # noqa: E402
from csms.actors.v2g._session import DischargeSession  # noqa: E402
from csms.config import load_settings  # noqa: E402
from csms.node import open_node, raise_open_file_limit, tune_garbage_collector  # noqa: E402

TIMEOUT = 60.0
#: The code whose allocations count as the sessions' (anything else traced meanwhile, such as
#: the grid prices a node loads, is not) ...
SESSION_CODE = ("/csms/actors/v2g/", "/csms/runtime/", "/csms/storage/v2g_sessions")
#: ... unless the station's side made them (its connection's buffers after the first commands).
STATION_CODE = ("/csms/transport/", "/csms/actors/station/", "/csms/actors/listener")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by rank (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def deep_size(root: object, shared: set[int]) -> int:
    """``sys.getsizeof`` summed over ``root`` and what it reaches, types, modules, functions
    and the ids in ``shared`` left out."""
    seen: set[int] = set()
    todo = [root]
    total = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or id(obj) in shared or isinstance(obj, type):
            continue
        if type(obj).__name__ in ("module", "function", "builtin_function_or_method", "method"):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


def traced(base: tracemalloc.Snapshot, top: int = 12) -> dict[str, Any]:
    """The memory that grew since ``base`` (a steady-state snapshot: what running actors
    allocate again and again, their timers and reads, cancels out), the source lines that grew
    the most, and the sessions' part of it by the innermost csms line it was allocated under."""
    snapshot = tracemalloc.take_snapshot()
    sites = []
    for stat in snapshot.compare_to(base, "lineno")[:top]:
        frame = stat.traceback[0]
        where = frame.filename.rpartition("site-packages/")[2]
        sites.append((f"{where}:{frame.lineno}", stat.size_diff))
    owners: dict[str, int] = {}
    total = sessions = 0  # sessions: what their own code and the actor runtime allocated
    for stat in snapshot.compare_to(base, "traceback"):
        total += stat.size_diff
        files = [f.filename for f in stat.traceback]
        if any(p in f for f in files for p in SESSION_CODE) and not any(
            p in f for f in files for p in STATION_CODE
        ):
            sessions += stat.size_diff
        else:
            continue
        frame = next((f for f in reversed(stat.traceback) if "/csms/" in f.filename), None)
        where = "elsewhere" if frame is None else f"{frame.filename.rpartition('/csms/')[2]}"
        where += "" if frame is None else f":{frame.lineno}"
        owners[where] = owners.get(where, 0) + stat.size_diff
    by_owner = sorted(owners.items(), key=lambda item: -item[1])[:top]
    return {"traced_bytes": total, "session_bytes": sessions, "sites": sites, "owners": by_owner}


def _slots(cls: type) -> list[str]:
    """The attributes of a slotted class and its bases."""
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


def trio_tasks() -> int:
    """The trio tasks of the process (the node's actors run one or more each)."""
    stack, count = [trio.lowlevel.current_root_task()], 0
    while stack:
        task = stack.pop()
        if task is None:
            continue
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


class Probe:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.sessions: dict[str, uuid.UUID] = {}  # station -> session
        self.updates: list[tuple[str, float, float]] = []
        self.discharging: set[str] = set()
        self.changed = trio.Event()
        self.uds: list[float] = []

    async def follow(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        bus = self.node.events
        updated = bus.subscribe("v2g.session.updated", capacity=200_000)
        commands = bus.subscribe("ocpp.command.response", capacity=200_000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._updates, updated)
            nursery.start_soon(self._commands, commands)
            task_status.started()

    async def _updates(self, feed: Any) -> None:
        async for event in feed:
            now = time.perf_counter()
            self.updates.append((event.station_id, event.exported_wh, now))
            if event.state == "discharging" and event.station_id not in self.discharging:
                self.discharging.add(event.station_id)
                self._wake()

    async def _commands(self, feed: Any) -> None:
        async for event in feed:
            if event.action == "UpdateDynamicSchedule":
                self.uds.append(time.perf_counter())
                self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, done: Any) -> bool:
        with trio.move_on_after(TIMEOUT):
            while not done():
                await self.changed.wait()
            return True
        return False

    async def start(self, first: int, count: int, kw: str) -> dict[str, Any]:
        limiter = trio.CapacityLimiter(32)
        refused: dict[str, int] = {}
        wanted = {f"V2G{i:06d}" for i in range(first, first + count)}
        begin = time.perf_counter()

        async def one(station_id: str) -> None:
            start = StartDischarge(station_id, 1, Decimal(kw) * 1000, None, None, "bench")
            async with limiter:
                try:
                    row = await start_discharge(self.node.root, start, timeout=TIMEOUT)
                except Exception as exc:
                    code = getattr(exc, "code", type(exc).__name__)
                    refused[code] = refused.get(code, 0) + 1
                else:
                    self.sessions[station_id] = row.id

        async with trio.open_nursery() as nursery:
            for station_id in sorted(wanted):
                nursery.start_soon(one, station_id)
        started = time.perf_counter() - begin
        ok = await self.wait_for(lambda: wanted & set(self.sessions) <= self.discharging)
        return {
            "started": len(wanted & set(self.sessions)),
            "refused": refused,
            "start_s": started,
            "discharging": len(wanted & self.discharging),
            "discharging_s": time.perf_counter() - begin,
            "complete": ok,
        }

    async def power(self, kw: str) -> dict[str, Any]:
        asks: list[float] = []
        failed = 0
        self.uds.clear()
        begin = time.perf_counter()
        sessions = self.node.root.ref(V2G_SESSIONS)

        async def one(session_id: uuid.UUID) -> None:
            nonlocal failed
            sent = time.perf_counter()
            try:
                await sessions.ask(ChangePower(session_id, Decimal(kw) * 1000), timeout=TIMEOUT)
            except Exception:
                failed += 1
            else:
                asks.append(time.perf_counter() - sent)

        async with trio.open_nursery() as nursery:
            for session_id in self.sessions.values():
                nursery.start_soon(one, session_id)
        count = len(self.sessions)
        await self.wait_for(lambda: len(self.uds) >= count)
        last = max(self.uds, default=begin)
        return {
            "sessions": count,
            "answered": len(self.uds),
            "failed": failed,
            "seconds": last - begin,
            "per_s": len(self.uds) / max(last - begin, 1e-9),
            "ask_p50_ms": 1000 * percentile(asks, 0.5),
            "ask_p99_ms": 1000 * percentile(asks, 0.99),
        }

    def state(self) -> dict[str, Any]:
        gc.collect()
        actors = [o for o in gc.get_objects() if type(o) is DischargeSession]
        if not actors:
            return {"actors": 0}
        # what every session shares (the node's parts) is not one session's
        deps = actors[0].deps
        shared = {id(deps), *(id(getattr(deps, f.name)) for f in attrs.fields(type(deps)))}
        parts: dict[str, list[int]] = {"state": [], "rest": []}
        for actor in actors:
            own = {k: getattr(actor, k, None) for k in _slots(type(actor))}
            for k in ("deps", "_ctx"):
                own.pop(k, None)
            state = own.pop("state")
            parts["state"].append(deep_size(state, shared))
            parts["rest"].append(sys.getsizeof(actor) + deep_size(own, shared))
        totals = [sum(p) for p in zip(*parts.values(), strict=True)]
        return {
            "actors": len(actors),
            "total_bytes_mean": sum(totals) / len(totals),
            "total_bytes_max": max(totals),
            **{f"{k}_bytes_mean": sum(v) / len(v) for k, v in parts.items()},
        }

    def dump(self) -> dict[str, Any]:
        updates, self.updates = self.updates, []
        return {"updates": updates}


async def serve(port: int) -> None:
    settings = load_settings(overrides={"ocpp.port": port, "http.port": 0})
    raise_open_file_limit(settings.ocpp.max_connections)
    async with open_node(settings) as node, trio.open_nursery() as nursery:
        tune_garbage_collector()
        probe = Probe(node)
        await nursery.start(probe.follow)
        print("READY", flush=True)
        profiler: cProfile.Profile | None = None
        base: tracemalloc.Snapshot | None = None
        settle = 0.0
        while True:
            line = await trio.to_thread.run_sync(sys.stdin.readline)
            words = line.split()
            if not words:
                break
            answer: dict[str, Any] = {}
            match words:
                case ["start", first, count, kw]:
                    answer = await probe.start(int(first), int(count), kw)
                case ["power", kw]:
                    answer = await probe.power(kw)
                case ["dump"]:
                    answer = probe.dump()
                case ["state"]:
                    answer = probe.state()
                case ["gc"]:
                    gc.collect()
                    answer = {"tasks": trio_tasks()}
                case ["profile"]:
                    profiler = cProfile.Profile(time.thread_time)  # CPU, not waits
                    profiler.enable()
                case ["unprofile", path] if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(path)
                    profiler = None
                case ["trace", seconds]:
                    tracemalloc.start(40)
                    # every running actor's timers and reads allocated again under tracing
                    settle = float(seconds)
                    await trio.sleep(settle)
                    gc.collect()
                    base = tracemalloc.take_snapshot()
                case ["untrace"] if base is not None:
                    await trio.sleep(settle)  # as long as before the base
                    gc.collect()
                    answer = traced(base)
                    tracemalloc.stop()
                    base = None
            print("BENCH " + json.dumps(answer), flush=True)
        nursery.cancel_scope.cancel()


def main() -> None:
    trio.run(serve, int(sys.argv[1]))


if __name__ == "__main__":
    main()
