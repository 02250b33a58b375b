"""The grid price questions the REST API asks, answered from the settings and a PLD table (pure).

``GridPriceBook`` is what the prices actor keeps (its ``PldTable`` is the ``v2g_grid_prices``
cache, refreshed from CCEE) and what the in-memory control plane of the API tests uses: the price
at an instant, an hourly forecast and the best discharge hours, for the configured distributor
and submarket or the ones a query names (an unknown one is a ``GridPriceQueryError`` naming the
field, a 422). The price source is the default station group's (``[v2g.prices.sources]``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from .grid_price_json import GridPriceQueryError
from .grid_price_settings import GridPriceSettings
from .pld import PldTable, Submarket
from .price_forecast import MAX_HOURS, DischargePlan, HourForecast, best_discharge_hours, forecast
from .retail_price import GridMarket, GridPrice, price_at

__all__ = ["MAX_HOURS", "GridPriceBook", "MarketQuery"]

HOUR: Final = dt.timedelta(hours=1)


@attrs.frozen
class MarketQuery:
    """Whose prices: None takes the configured distributor (code) or submarket."""

    distributor: str | None = None
    submarket: Submarket | None = None


@attrs.frozen
class GridPriceBook:
    settings: GridPriceSettings
    tz: ZoneInfo
    table: PldTable = attrs.field(factory=PldTable)

    def market(self, query: MarketQuery) -> GridMarket:
        code = query.distributor
        if code is not None and code not in self.settings.distributors:
            names = ", ".join(sorted(self.settings.distributors))
            raise GridPriceQueryError("distributor", f"{code!r} is not one of {names}")
        return self.settings.market(
            self.tz, self.table, distributor=code, submarket=query.submarket
        )

    def price(self, query: MarketQuery, at: dt.datetime) -> GridPrice:
        return price_at(self.market(query), self.settings.source_for(None), at)

    def forecast(
        self, query: MarketQuery, start: dt.datetime, hours: int
    ) -> tuple[HourForecast, ...]:
        if not 1 <= hours <= MAX_HOURS:
            raise GridPriceQueryError("hours", f"must be 1-{MAX_HOURS}, not {hours}")
        return forecast(self.market(query), self.settings.source_for(None), start, hours)

    def best_hours(
        self,
        query: MarketQuery,
        window_start: dt.datetime,
        window_end: dt.datetime,
        power_w: Decimal,
        energy_wh: Decimal,
    ) -> DischargePlan:
        """The best whole hours inside the window; only its first week (``MAX_HOURS``) is
        considered, and an empty window (``window_end`` not after ``window_start``) holds none:
        the whole energy is the shortfall."""
        if not power_w > 0:
            raise GridPriceQueryError("powerKw", "must be positive")
        if not energy_wh > 0:
            raise GridPriceQueryError("energyKwh", "must be positive")
        window_end = max(window_start, min(window_end, window_start + MAX_HOURS * HOUR))
        # the forecast's hours cover the window from the hour containing its start
        span = -(-(window_end - window_start) // HOUR) + 1
        hours = self.forecast(query, window_start, min(span, MAX_HOURS))
        return best_discharge_hours(hours, window_start, window_end, power_w, energy_wh)
