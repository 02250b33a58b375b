"""What the prices actor (``prices``) is asked: the price questions of the REST API, answered
from its in-memory table, and a refresh from CCEE."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

import attrs

from csms.services.grid_price_book import MarketQuery

__all__ = ["BestHours", "Forecast", "MonthRefresh", "PriceAt", "RefreshPrices", "RefreshResult"]


@attrs.frozen
class PriceAt:
    """Ask: the ``GridPrice`` at ``at``."""

    query: MarketQuery
    at: dt.datetime


@attrs.frozen
class Forecast:
    """Ask: ``hours`` ``HourForecast`` from the hour containing ``start``."""

    query: MarketQuery
    start: dt.datetime
    hours: int


@attrs.frozen
class BestHours:
    """Ask: the ``DischargePlan`` of the best hours in [start, end) for an energy at a power."""

    query: MarketQuery
    start: dt.datetime
    end: dt.datetime
    power_w: Decimal
    energy_wh: Decimal


@attrs.frozen
class RefreshPrices:
    """Ask: read the current and the next month from CCEE now; answered with the
    ``RefreshResult`` once the table is reloaded (tell it to refresh without waiting)."""


@attrs.frozen
class MonthRefresh:
    """One month of a refresh: where its hours came from. ``source`` is ``simulated`` when CCEE
    failed (``error`` says how) or published none of them."""

    year: int
    month: int
    source: Literal["ccee", "simulated"]
    ccee_hours: int
    simulated_hours: int
    error: str | None = None


@attrs.frozen
class RefreshResult:
    at: dt.datetime
    months: tuple[MonthRefresh, ...]
