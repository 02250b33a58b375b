"""The V2G optimizer (``v2g_optimizer``, SPEC section 6): plans when each plugged-in, capable,
opted-in EV discharges (``csms.services.v2g_optimizer``) and starts, changes and stops the
discharge sessions (``csms.actors.v2g``) as the plan says, on a schedule when
``v2g.optimizer.enabled``, and whenever asked (``Optimize``, the REST API's
``POST /api/v1/v2g/optimize``).

The node registers it with ``optimizer_capability()``: its child, and a route factory that
registers no route but hands the child the node's tree (which it sends through).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import attrs

from csms.actors.node import NodeParts
from csms.actors.station import Route
from csms.runtime import ChildSpec, Supervisor
from csms.services.v2g_optimizer_run import OptimizerRun
from csms.services.v2g_preferences import time_zone

from ._actor import REQUESTED_BY, OptimizerActor, OptimizerUnavailable
from ._messages import LastRun, Optimize, OptimizerOptions, PricesRefreshed

__all__ = [
    "NAME",
    "REQUESTED_BY",
    "LastRun",
    "Optimize",
    "OptimizerActor",
    "OptimizerCapability",
    "OptimizerOptions",
    "OptimizerUnavailable",
    "PricesRefreshed",
    "ask_optimizer",
    "optimizer_capability",
]

#: The actor's name in the node's tree.
NAME = "v2g_optimizer"


def options_of(parts: NodeParts, **changes: Any) -> OptimizerOptions:
    """The optimizer's options from the node's settings (``[v2g.optimizer]``)."""
    opt = parts.settings.v2g.optimizer
    options = OptimizerOptions(
        enabled=opt.enabled,
        interval_s=opt.interval_s,
        horizon_hours=opt.horizon_hours,
        min_spread_rs_per_kwh=Decimal(repr(opt.min_spread_rs_per_kwh)),
        command_timeout=parts.settings.ocpp.response_timeout + 5,
    )
    return attrs.evolve(options, **changes)


@attrs.define
class OptimizerCapability:
    """The child and its route factory; the route factory is given the tree first."""

    name: str = NAME
    #: Options over the settings' (a test's clock, say).
    changes: dict[str, Any] = attrs.field(factory=dict)
    _root: Supervisor | None = None

    def root(self) -> Supervisor:
        assert self._root is not None, "the node's tree is given before the tree starts"
        return self._root

    def child(self, parts: NodeParts) -> ChildSpec:
        tz = time_zone(parts.settings.v2g.time_zone)
        options = options_of(parts, **self.changes)

        def make() -> OptimizerActor:
            return OptimizerActor(
                database=parts.database,
                root=self.root,
                tz=tz,
                options=options,
                events=parts.events,
            )

        return ChildSpec.actor(self.name, make, kind="optimizer", shutdown_timeout=5)

    def routes(self, root: Supervisor) -> Iterable[Route]:
        self._root = root
        return ()


def optimizer_capability(
    name: str = NAME, clock: Callable[[], dt.datetime] | None = None, **changes: Any
) -> OptimizerCapability:
    """A node's optimizer; ``changes`` override the settings' options."""
    if clock is not None:
        changes["clock"] = clock
    return OptimizerCapability(name, changes)


async def ask_optimizer(
    root: Supervisor, request: Optimize, *, timeout: float, name: str = NAME
) -> OptimizerRun:
    run: OptimizerRun = await root.ref(name).ask(request, timeout=timeout)
    return run
