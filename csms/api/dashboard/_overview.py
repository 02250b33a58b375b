"""The overview: the network's figures, the grid price with its next 24 hours, recent security
events. Figures are computed once per batch of events (however many dashboards refresh on it),
the energy of the day at most every ``ENERGY_TTL`` seconds (from the events stored since the
last time: ``_energy``) and the price curve every minute."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from starlette.responses import Response

from csms.services.grid_price_book import MarketQuery
from csms.storage import dashboard as queries

from .._errors import ApiError
from ._core import Dashboard, Page, page

__all__ = ["overview_routes"]

log = logging.getLogger("csms.dashboard")

ENERGY_TTL = 15.0
PRICE_TTL = 60.0
T = TypeVar("T")


async def cached(dash: Dashboard, key: str, ttl: float, make: Callable[[], Awaitable[T]]) -> T:
    """``make()``'s value, reused for ``ttl`` seconds (a key carrying the hub's version is
    reused until the next batch of events instead), computed once however many pages ask."""
    return await dash.memo.get(key, ttl, make)


def _local_midnight(now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _prices(p: Page) -> dict[str, Any] | None:
    prices = p.control.prices
    now = dt.datetime.now(dt.UTC)
    try:
        current = await prices.price(MarketQuery(), now)
        hours = await prices.forecast(MarketQuery(), now, 24)
    except (ApiError, ValueError) as exc:
        log.info("dashboard: no grid prices", extra={"error": str(exc)})
        return None
    curve = {
        "x": [h.start.timestamp() for h in hours],
        "price": [float(h.retail_rs_per_kwh) for h in hours],
        "peak": [1 if h.is_peak else 0 for h in hours],
    }
    return {
        "now": current,
        "hours": hours,
        "curve": orjson.dumps(curve).decode(),
        "simulated": current.simulated or any(h.simulated for h in hours),
    }


def overview_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    @page(dash)
    async def overview(p: Page) -> Response:
        db = p.db
        # while pages are open, the figures are computed once per batch of events (however
        # many pages ask); with none open the hub hears nothing, so they are kept a second
        hub = dash.hub
        key, ttl = (f"counts:{hub.version}", 5.0) if hub.clients else ("counts", 1.0)
        counts = await cached(dash, key, ttl, lambda: db.run(queries.network_counts))
        since = _local_midnight(dt.datetime.now(dt.UTC), p.tz)
        energy: Decimal | None = await cached(
            dash, f"energy:{since.isoformat()}", ENERGY_TTL, lambda: dash.energy.total(since)
        )
        security = await cached(
            dash,
            "security" + key[len("counts") :],
            ttl,
            lambda: db.run(queries.recent_security_events, limit=10),
        )
        context = {"counts": counts, "energy_wh": energy, "security": security}
        if p.partial:
            return p.render("_overview_live.html", **context)
        prices = await cached(dash, "prices", PRICE_TTL, lambda: _prices(p))
        return p.render("overview.html", prices=prices, **context)

    return [("GET", "/", overview)]
