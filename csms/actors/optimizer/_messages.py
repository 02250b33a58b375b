"""What the optimizer (``v2g_optimizer``) is asked and told, and how it runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import attrs

from csms.actors.v2g._messages import TrioWallClock

__all__ = ["LastRun", "Optimize", "OptimizerOptions", "PricesRefreshed"]


@attrs.frozen
class Optimize:
    """Ask: plan now (of one station's EVs, or all) and, unless ``dry_run``, start, change and
    stop the sessions that are due. Answered with an ``OptimizerRun``. ``at`` plans as of
    another instant (a what-if); None: the optimizer's clock."""

    dry_run: bool = False
    station_id: str | None = None
    at: dt.datetime | None = None
    #: Who asked (the REST API's principal); None: the optimizer's own schedule.
    requested_by: str | None = None


@attrs.frozen
class LastRun:
    """Ask: ``(runs so far, the last OptimizerRun or None)``."""


@attrs.frozen
class PricesRefreshed:
    """Tell: the grid prices changed; plan again now (when the schedule is on)."""


@attrs.frozen
class OptimizerOptions:
    #: Plan and act on a schedule (``v2g.optimizer.enabled``); off, it plans only when asked.
    enabled: bool = False
    interval_s: float = 300.0
    horizon_hours: int = 24
    min_spread_rs_per_kwh: Decimal = Decimal(0)
    #: How long a session's start, stop or power change may take, s.
    command_timeout: float = 35.0
    #: Starts, stops and power changes in flight at once.
    concurrency: int = 16
    #: The wall clock plans are made by (UTC, aware): trio's clock, so MockClock moves it.
    clock: Callable[[], dt.datetime] = attrs.field(factory=TrioWallClock)
