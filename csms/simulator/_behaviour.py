"""What load-test stations do by themselves: heartbeats only, or transactions, with random
jitter so a fleet spreads out. In the v2g behaviour the EV is a V2X EV: it authorizes,
announces its needs and then follows whatever the CSMS commands (discharge included)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from . import _commands as cmd
from ._model import SimulationError
from ._operator import operate, plug_in
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
            station.catch_up()
            await plug_in(station, 1)
            await trio.sleep(behaviour.charge_seconds * rng.uniform(0.5, 1.0))
            station.catch_up()
            operate(station, cmd.StopCharging(None))
        except SimulationError:
            pass  # a reset ended it meanwhile
        await trio.sleep(behaviour.idle_seconds * rng.uniform(0.5, 1.5))
