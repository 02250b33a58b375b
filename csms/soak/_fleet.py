"""The soak's fleet: the load test's simulated stations (same configuration, same actors), kept
running for the whole soak, each recording what the CSMS acknowledged in one `Ledger`.

Unlike ``run_loadtest`` the soak needs to reach its stations: to close every socket at once, to
wait until all are back after a fault, and to read their unacknowledged queues at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import trio

from csms.runtime import ChildSpec, DynamicSupervisor, RestartIntensity, RestartType
from csms.simulator import SimulatedStation, StationState
from csms.simulator._ledger import Acknowledged, Delivered, Ledger
from csms.simulator._loadtest import LoadTestOptions

from ._check import StationEnd
from ._latency import LatencySeries, SoakStats

__all__ = ["Fleet"]


class Fleet:
    def __init__(self, options: LoadTestOptions) -> None:
        self.options = options
        self.ledger = Ledger()
        self.stats = SoakStats()
        self.states: list[StationState] = []
        self._actors: dict[str, SimulatedStation] = {}
        self._acked = trio.Event()
        self.ledger.on_record = self._on_record
        self._supervisor = DynamicSupervisor(
            name="soak-fleet",
            intensity=RestartIntensity(max_restarts=max(100, options.stations), within=10.0),
        )

    def _on_record(self) -> None:
        if not self._acked.is_set():
            self._acked.set()

    def _spec(self, state: StationState) -> ChildSpec:
        def make() -> SimulatedStation:
            actor = SimulatedStation(state)
            self._actors[state.config.station_id] = actor
            return actor

        return ChildSpec.actor(
            state.config.station_id,
            make,
            kind="simulator",
            restart=RestartType.PERMANENT,
            mailbox_size=16,
            shutdown_timeout=1.0,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the stations at the options' ramp (started once all are), run until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self._supervisor.run)
            begin = trio.current_time()
            options = self.options
            for offset in range(options.stations):
                await trio.sleep_until(begin + offset / options.ramp)
                state = StationState(options.config(options.first + offset), self.stats)
                state.ledger = self.ledger
                self.states.append(state)
                self._supervisor.start_child_nowait(self._spec(state))
            task_status.started()

    # --- what the soak does and asks ----------------------------------------------------

    async def drop_all(self) -> int:
        """Close every station's socket at once; returns how many were open."""
        dropped = 0
        for state in self.states:
            actor = self._actors.get(state.config.station_id)
            if actor is not None and state.connected:
                actor.drop_connection()
                dropped += 1
        return dropped

    def online(self) -> int:
        return sum(1 for s in self.states if s.online)

    async def all_online(self) -> None:
        """Return once every station is connected with its boot accepted."""
        while (offline := [s for s in self.states if not s.online]) != []:
            for state in offline:
                await state.wait_for(_online(state))

    async def attempts(self, server: str | None = None) -> Any:  # opaque as `WorkerFleet`'s
        """Each station's connection attempts so far (see `all_back`): of the stations whose
        connection is to ``server`` (an OCPP URL prefix), or of all."""
        return {
            s.config.station_id: s.attempts
            for s in self.states
            if server is None or s.config.url_at(s.server_index).startswith(server + "/")
        }

    async def all_back(self, attempts: Any) -> None:
        """Return once every station of ``attempts`` connected again since it was taken and
        is online (a station that has not noticed its loss yet is not back)."""
        for state in self.states:
            if state.config.station_id in attempts:
                await state.wait_for(_back(state, attempts[state.config.station_id]))

    async def backlog(self) -> Any:  # list[tuple[StationState, object]]
        """Each station's newest unacknowledged transaction message now (see `cleared`)."""
        return [(s, s.queue[-1]) for s in self.states if s.queue]

    async def cleared(self, backlog: Any) -> None:
        """Return once every message of ``backlog`` (and so all queued before it) was
        acknowledged: committed by the node."""
        for state, newest in backlog:
            await state.wait_for(_gone(state, newest))

    async def acknowledged_again(self) -> None:
        """Return at the next acknowledgement from now on (the node writes again)."""
        self._acked = trio.Event()
        await self._acked.wait()

    async def drained(self) -> None:
        """Return once every station was, at some point from now on, online with nothing
        unacknowledged (what it sent was answered)."""
        for state in self.states:
            await state.wait_for(_drained(state))

    @property
    def messages(self) -> int:
        """Every call the CSMS acknowledged so far (transaction messages or not)."""
        return self.ledger.messages

    async def finish(self) -> None:
        """Nothing to collect: the stations are in this process (see `WorkerFleet.finish`)."""

    def entries(self) -> list[Acknowledged]:
        return self.ledger.entries

    def deliveries(self) -> list[Delivered]:
        return self.ledger.deliveries

    def pending(self) -> list[Acknowledged]:
        return Ledger.pending(
            {s.config.station_id: [(m.action, m.payload) for m in s.queue] for s in self.states}
        )

    def ends(self) -> list[StationEnd]:
        return [
            StationEnd(
                s.config.station_id,
                s.online,
                s.boots,
                tuple(e.tx_id for e in s.model.evses if e.tx_id is not None),
                tuple(
                    e.tx_id
                    for e in s.model.evses
                    if e.tx_id is not None and e.profile_w is not None and e.profile_w < 0
                ),
            )
            for s in self.states
        ]

    @property
    def latency(self) -> LatencySeries:
        """TransactionEvent latencies per second (see `csms.soak._latency`)."""
        return self.stats.series

    def reported_until(self) -> float:
        """Every second before this one is in `latency` (in-process: all, now)."""
        return time.time()

    def errors(self) -> dict[str, int]:
        return dict(self.stats.error_kinds)


def _online(state: StationState) -> Callable[[], bool]:
    return lambda: state.online


def _drained(state: StationState) -> Callable[[], bool]:
    return lambda: state.online and not state.queue


def _back(state: StationState, attempts: int) -> Callable[[], bool]:
    return lambda: state.attempts > attempts and state.online


def _gone(state: StationState, item: object) -> Callable[[], bool]:
    return lambda: all(queued is not item for queued in state.queue)
