"""What the optimizer's end-to-end tests share: a node with the V2G optimizer on its schedule,
its clock anchored on a working Tuesday at 16:30 in Sao Paulo (CEMIG's ponta is 17:00-20:00)
and moving with trio's MockClock, so the machine's wall clock plays no part in what it plans."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import trio
import trio.testing

from csms.actors.optimizer import optimizer_capability
from csms.simulator import Simulator

from ..api.conftest import api_node, client
from .v2g_end_to_end import NODE_SETTINGS, Rig, meter_tick

__all__ = ["ANCHOR", "NAME", "PONTA_START", "anchored_clock", "jump", "optimizer_node", "tick"]

NAME = "v2g_optimizer_under_test"
SP = dt.timezone(dt.timedelta(hours=-3))
ANCHOR = dt.datetime(2026, 3, 3, 16, 30, tzinfo=SP)  # Tuesday, half an hour before the ponta
PONTA_START = dt.datetime(2026, 3, 3, 17, tzinfo=SP)


def anchored_clock() -> Callable[[], dt.datetime]:
    """UTC time from ``ANCHOR``, moving with trio's clock."""
    t0 = trio.current_time()
    return lambda: (ANCHOR + dt.timedelta(seconds=trio.current_time() - t0)).astimezone(dt.UTC)


@contextlib.asynccontextmanager
async def optimizer_node(
    database_url: str,
    *,
    now: Callable[[], dt.datetime] | None = None,
    settings: Mapping[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[Rig]:
    """A node with the optimizer ``NAME`` on its schedule (clock ``now``, by default anchored
    now; ``options`` its settings) and the node ``settings`` besides the end-to-end ones."""
    optimizer = optimizer_capability(
        NAME, now or anchored_clock(), enabled=True, interval_s=300.0, **options
    )
    async with (
        api_node(
            database_url,
            extra_children=(optimizer.child,),
            routes=(optimizer.routes,),
            **{**NODE_SETTINGS, "ocpp.port": 0, **(settings or {})},
        ) as node,
        client(node) as api,
    ):
        events = node.events.subscribe("v2g.")
        try:
            yield Rig(node, api, events, database_url)
        finally:
            node.events.unsubscribe(events)


async def jump(clock: trio.testing.MockClock, sim: Simulator, seconds: float) -> None:
    """Move the clock once the station owes the node nothing (no store waits across it)."""
    await sim.state.wait_for(lambda: sim.state.settled)
    clock.jump(seconds)


async def tick(clock: trio.testing.MockClock, sim: Simulator) -> None:
    """A meter interval, once the station owes the node nothing."""
    await sim.state.wait_for(lambda: sim.state.settled)
    await meter_tick(clock, sim)
