"""The faults a soak injects, each measured until the fleet is whole again.

Recovery is measured from the end of the fault: for ``kill`` and ``disconnect`` the instant of
the kill or of the closing (the restart and the reconnections are the recovery), for the
outages (``pg-stop``, ``pg-slow``, ``nats``) the instant the service is back. A fault has
recovered once every station reconnected (``kill``, ``disconnect``) or is online (outages) and
every transaction message the stations held when the fault ended was acknowledged (committed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import attrs
import trio

from csms.storage import EmbeddedPostgres, connect
from csms.transport.nats_server import EmbeddedNats

from ._fleet import Fleet
from ._node import NodeProcess
from ._workers import WorkerFleet

__all__ = ["FAULTS", "FaultResult", "Faults"]

log = logging.getLogger("csms.soak")

FAULTS: Final = ("kill", "pg-stop", "pg-slow", "disconnect", "nats")
#: The hot table a slow database is made of: every TransactionEvent inserts into it.
HOT_TABLE: Final = "transaction_events"


@attrs.define
class FaultResult:
    kind: str
    at: float  # seconds into the soak
    recovered: bool = False
    recovery_s: float | None = None
    detail: str = ""

    def dump(self) -> dict[str, object]:
        return attrs.asdict(self)


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
    ) -> None:
        self.fleet = fleet
        self.node = node
        self.postgres = postgres
        self.nats = nats
        self.outage = outage
        self.recovery_timeout = recovery_timeout

    def available(self, kinds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(k for k in kinds if k != "nats" or self.nats is not None)

    async def inject(self, kind: str, at: float) -> FaultResult:
        result = FaultResult(kind, round(at, 1))
        action: dict[str, Callable[[FaultResult], Awaitable[Callable[[], Awaitable[None]]]]] = {
            "kill": self._kill,
            "pg-stop": self._pg_stop,
            "pg-slow": self._pg_slow,
            "disconnect": self._disconnect,
            "nats": self._nats,
        }
        log.info("fault", extra={"fault": kind, "at": result.at})
        recovered = await action[kind](result)
        end = trio.current_time()
        with trio.move_on_after(self.recovery_timeout):
            await recovered()
            result.recovered = True
            result.recovery_s = round(trio.current_time() - end, 2)
        log.info(
            "fault recovered" if result.recovered else "fault NOT recovered",
            extra={"fault": kind, "recovery_s": result.recovery_s, "online": self.fleet.online()},
        )
        return result

    # Each returns what to wait for once the fault is over.

    async def _kill(self, result: FaultResult) -> Callable[[], Awaitable[None]]:
        attempts = await self.fleet.attempts()
        self.node.kill()
        result.detail = f"SIGKILL of pid {self.node.pid}"

        backlog = await self.fleet.backlog()

        async def back() -> None:
            await self.node.start()
            await self.fleet.all_back(attempts)
            await self.fleet.cleared(backlog)

        return back

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
