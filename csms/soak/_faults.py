"""The faults a soak injects, each measured until the fleet is whole again.

Recovery is measured from the end of the fault: for ``kill`` and ``disconnect`` the instant of
the kill or of the closing (the restart and the reconnections are the recovery), for the
outages (``pg-stop``, ``pg-slow``, ``nats``) the instant the service is back. A fault has
recovered once every station reconnected (``kill``, ``disconnect``) or is online (outages) and
every transaction message the stations held when the fault ended was acknowledged (committed),
and then (when the fault is judged: TransactionEvents flowed before it) once the TransactionEvent
p99 latency is back to normal (`csms.soak._latency`); both within the recovery timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import attrs
import trio

from csms.storage import EmbeddedPostgres, connect
from csms.transport.nats_server import EmbeddedNats

from ._fleet import Fleet
from ._latency import baseline_ready, latency_recovery
from ._node import NodeProcess
from ._workers import WorkerFleet

__all__ = ["FAULTS", "FaultResult", "Faults"]

log = logging.getLogger("csms.soak")

FAULTS: Final = ("kill", "pg-stop", "pg-slow", "disconnect", "nats", "node-kill")
#: The hot table a slow database is made of: every TransactionEvent inserts into it.
HOT_TABLE: Final = "transaction_events"


@attrs.define
class FaultResult:
    kind: str
    at: float  # seconds into the soak
    recovered: bool = False
    recovery_s: float | None = None
    detail: str = ""
    #: TransactionEvent p99 back to normal (see `csms.soak._latency`): None when not judged
    latency_recovered: bool | None = None
    latency_recovered_s: float | None = None  # from the end of the fault
    baseline_p99_ms: float | None = None
    latency_threshold_ms: float | None = None
    wall_start: float = 0.0  # the fault began (seconds since the epoch)
    wall_end: float = 0.0  # its recovery ended, or was given up

    @property
    def passed(self) -> bool:
        return self.recovered and self.latency_recovered is not False

    def dump(self) -> dict[str, object]:
        return attrs.asdict(self)


@attrs.frozen
class SecondNode:
    """``--nodes 2``: the node that ``node-kill`` kills, and both nodes' ids."""

    process: NodeProcess
    survivor_id: str
    node_id: str


class Faults:
    def __init__(
        self,
        *,
        fleet: Fleet | WorkerFleet,
        node: NodeProcess,
        postgres: EmbeddedPostgres,
        nats: EmbeddedNats | None,
        outage: float,
        recovery_timeout: float,
        second: SecondNode | None = None,
        station_ids: Sequence[str] = (),
    ) -> None:
        self.second = second
        self.station_ids = list(station_ids)
        self.fleet = fleet
        self.node = node
        self.postgres = postgres
        self.nats = nats
        self.outage = outage
        self.recovery_timeout = recovery_timeout
        #: the wall-clock end of the last recovery (or the fleet's start): the quiet window
        #: before the next fault, the latency's baseline, begins here
        self.quiet_since = time.time()

    def available(self, kinds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(
            k
            for k in kinds
            if (k != "nats" or self.nats is not None) and (k != "node-kill" or self.second)
        )

    async def inject(self, kind: str, at: float) -> FaultResult:
        """Inject once the quiet window holds the latency's baseline; return once recovered."""
        result = FaultResult(kind, round(at, 1))
        action: dict[str, Callable[[FaultResult], Awaitable[Callable[[], Awaitable[None]]]]] = {
            "kill": self._kill,
            "pg-stop": self._pg_stop,
            "pg-slow": self._pg_slow,
            "disconnect": self._disconnect,
            "nats": self._nats,
            "node-kill": self._node_kill,
        }
        await self._quiet_window()
        log.info("fault", extra={"fault": kind, "at": result.at})
        start_wall = result.wall_start = time.time()
        recovered = await action[kind](result)
        end, end_wall = trio.current_time(), time.time()
        with trio.move_on_after(self.recovery_timeout):
            await recovered()
            result.recovered = True
            result.recovery_s = round(trio.current_time() - end, 2)
            result.latency_recovered = False  # until the latency is back
            await self._latency_back(result, start_wall, end_wall, time.time())
        second = self.second
        if kind == "node-kill" and second is not None and not second.process.alive:
            await second.process.start()  # after the recovery: it was made without it
        self.quiet_since = result.wall_end = time.time()
        log.info(
            "fault recovered" if result.passed else "fault NOT recovered",
            extra={
                "fault": kind,
                "recovery_s": result.recovery_s,
                "latency_recovered_s": result.latency_recovered_s,
                "online": self.fleet.online(),
            },
        )
        return result

    async def _quiet_window(self) -> None:
        """Return once the quiet window before the fault holds the latency's baseline."""
        while True:
            if baseline_ready(self.fleet.latency, self.quiet_since, time.time()):
                return
            await trio.sleep(0.5)  # the window grows by the second: look at it again then

    async def _latency_back(
        self, result: FaultResult, start: float, end: float, fleet_recovered: float
    ) -> None:
        """Return once the TransactionEvent p99 is back to normal (or the fault not judged)."""
        while True:
            verdict = latency_recovery(
                self.fleet.latency,
                quiet_since=self.quiet_since,
                fault_start=start,
                fault_end=end,
                fleet_recovered=fleet_recovered,
                complete_until=self.fleet.reported_until(),
            )
            result.baseline_p99_ms = verdict.baseline_p99_ms
            result.latency_threshold_ms = verdict.threshold_ms
            if not verdict.judged:
                result.latency_recovered = None
                return
            if verdict.recovered_s is not None:
                result.latency_recovered = True
                result.latency_recovered_s = verdict.recovered_s
                return
            await trio.sleep(1.0)  # the series grows by the second: look at it again then

    # Each returns what to wait for once the fault is over.

    async def _kill(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        # with a second node, only the stations on this one lose their connection
        attempts = await self.fleet.attempts(self.node.ocpp_url if self.second else None)
        self.node.kill()
        result.detail = f"SIGKILL of pid {self.node.pid}"

        backlog = await self.fleet.backlog()

        async def back() -> None:
            await self.node.start()
            await self.fleet.all_back(attempts)
            await self.fleet.cleared(backlog)

        return back

    async def _node_kill(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        second = self.second
        assert second is not None
        second.process.kill()
        result.detail = f"SIGKILL of node {second.node_id} (pid {second.process.pid})"
        backlog = await self.fleet.backlog()

        async def moved() -> None:
            await self.fleet.all_online()
            await self.fleet.cleared(backlog)
            await self._presence_on(second.survivor_id, dead=second.node_id)

        return moved

    async def _presence_on(self, survivor: str, *, dead: str) -> None:
        """Return once every station's presence row names ``survivor`` and none ``dead`` (its
        rows cleared by the survivor's reaping, or taken over)."""

        def count() -> tuple[int, int]:
            with connect(self.postgres.url) as conn:
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE node_id = %s),"
                    " count(*) FILTER (WHERE node_id IS DISTINCT FROM %s)"
                    " FROM stations WHERE id = ANY(%s)",
                    (dead, survivor, self.station_ids),
                ).fetchone()
            assert row is not None
            return int(row[0]), int(row[1])

        while True:
            if await trio.to_thread.run_sync(count) == (0, 0):
                return
            await trio.sleep(0.5)  # the rows change in the node's own time: look again

    async def _disconnect(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        attempts = await self.fleet.attempts()
        result.detail = f"{await self.fleet.drop_all()} sockets closed"
        backlog = await self.fleet.backlog()

        async def back() -> None:
            await self.fleet.all_back(attempts)
            await self.fleet.cleared(backlog)

        return back

    async def _pg_stop(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        await trio.to_thread.run_sync(self.postgres.crash)
        await trio.sleep(self.outage)  # the outage itself: PostgreSQL is down this long
        await trio.to_thread.run_sync(self.postgres.restart)
        result.detail = f"PostgreSQL stopped (immediate) for {self.outage:g} s"
        return self._flowing

    async def _pg_slow(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        def hold(release: trio.Event, token: trio.lowlevel.TrioToken) -> None:
            with connect(self.postgres.url) as conn:
                conn.execute(f"LOCK TABLE {HOT_TABLE} IN EXCLUSIVE MODE")
                trio.from_thread.run(release.wait, trio_token=token)
                conn.rollback()

        release = trio.Event()
        token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, hold, release, token)
            await trio.sleep(self.outage)  # the lock is held this long
            release.set()
        result.detail = f"{HOT_TABLE} locked (EXCLUSIVE) for {self.outage:g} s"
        return self._flowing

    async def _nats(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        nats = self.nats
        assert nats is not None
        await trio.to_thread.run_sync(nats.stop)
        await trio.sleep(self.outage)  # NATS is down this long
        await trio.to_thread.run_sync(nats.start)
        result.detail = f"NATS stopped for {self.outage:g} s"
        return self._flowing

    async def _flowing(self) -> None:
        backlog = await self.fleet.backlog()  # the fault just ended: what it held up
        await self.fleet.all_online()
        await self.fleet.cleared(backlog)
