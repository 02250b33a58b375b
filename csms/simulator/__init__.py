"""A charge-point simulator (OCPP 2.0.1 / 2.1) and the load test built on it.

One simulated station is an actor (`SimulatedStation`) whose state outlives it (`StationState`);
`open_simulator` runs one under a supervisor, `run_loadtest` runs thousands.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import trio

from csms.runtime import ActorRef, DynamicSupervisor

from ._backoff import ReconnectBackoff
from ._commands import CommandSyntaxError, parse_command
from ._model import ChargePoint, Ev, Evse, Outgoing, SimulationError
from ._prompt import run_prompt, stream_lines
from ._state import Behaviour, StationConfig, StationState
from ._station import SimulatedStation, station_spec
from ._stats import Histogram, LoadStats

__all__ = [
    "Behaviour",
    "ChargePoint",
    "CommandSyntaxError",
    "Ev",
    "Evse",
    "Histogram",
    "LoadStats",
    "Outgoing",
    "ReconnectBackoff",
    "SimulatedStation",
    "SimulationError",
    "Simulator",
    "StationConfig",
    "StationState",
    "open_simulator",
    "parse_command",
    "run_prompt",
    "station_spec",
    "stream_lines",
]


@attrs.frozen
class Simulator:
    ref: ActorRef
    state: StationState


@contextlib.asynccontextmanager
async def open_simulator(
    config: StationConfig, *, stats: LoadStats | None = None
) -> AsyncIterator[Simulator]:
    """Run one simulated station until the block exits."""
    supervisor = DynamicSupervisor(name="simulator")
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        state = StationState(config, stats)
        ref = await supervisor.start_child(station_spec(state), name=config.station_id)
        try:
            yield Simulator(ref, state)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await supervisor.stop()
            nursery.cancel_scope.cancel()
