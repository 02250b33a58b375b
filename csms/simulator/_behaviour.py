"""What load-test stations do by themselves: heartbeats only, or transactions (with V2G
discharge in the middle for the v2g behaviour), with random jitter so a fleet spreads out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from . import _commands as cmd
from ._model import SimulationError
from ._state import Behaviour

if TYPE_CHECKING:
    from ._station import SimulatedStation

__all__ = ["run_behaviour"]


async def run_behaviour(station: SimulatedStation, behaviour: Behaviour) -> None:
    if behaviour.kind == "heartbeat":
        return  # the heartbeat loop does it all
    state, rng = station.s, station.s.rng
    await trio.sleep(rng.uniform(0, behaviour.idle_seconds))
    while True:
        await state.wait_for(lambda: state.online)
        try:
            station.operate(cmd.StartCharging(1))
            if behaviour.kind == "v2g" and state.model.ev.v2g:
                await trio.sleep(behaviour.charge_seconds * rng.uniform(0.2, 0.5))
                station.operate(cmd.V2GStart(behaviour.discharge_kw))
            await trio.sleep(behaviour.charge_seconds * rng.uniform(0.5, 1.0))
            station.operate(cmd.StopCharging(None))
        except SimulationError:
            pass  # a reset ended it meanwhile
        await trio.sleep(behaviour.idle_seconds * rng.uniform(0.5, 1.5))
