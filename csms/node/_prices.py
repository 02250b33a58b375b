"""The REST API's grid prices over the node's prices actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from csms.actors import Node, prices
from csms.api import Unavailable
from csms.runtime import ActorError
from csms.services.grid_price_book import MarketQuery
from csms.services.v2g_preferences import time_zone


@attrs.frozen
class NodePrices:
    """The REST API's ``GridPriceControl`` over the node's prices actor (``csms/actors/prices``)."""

    node: Node

    @property
    def time_zone(self) -> dt.tzinfo:
        return time_zone(self.node.settings.v2g.time_zone)

    async def _ask(self, message: Any) -> Any:
        try:
            return await prices.ask_prices(self.node.root, message)
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's grid prices are not available") from None

    async def price(self, query: MarketQuery, at: dt.datetime) -> Any:
        return await self._ask(prices.PriceAt(query, at))

    async def forecast(self, query: MarketQuery, start: dt.datetime, hours: int) -> Any:
        return await self._ask(prices.Forecast(query, start, hours))

    async def best_hours(
        self, query: MarketQuery, start: dt.datetime, end: dt.datetime, power_w: Any, energy_wh: Any
    ) -> Any:
        return await self._ask(prices.BestHours(query, start, end, power_w, energy_wh))
