"""The overview: the network's figures, the grid price with its next 24 hours, recent security
events. Figures are computed once per batch of events however many overviews are open, and go
to them inside the batch's SSE message (``_hub``): an open overview fetches only its security
events again, when a batch names them. The energy of the day is refreshed in the background at
most every ``ENERGY_TTL`` seconds (from the events stored since the last time: ``_energy``), the
price curve every minute."""

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
from ._core import Dashboard, Page, format_kw, format_kwh, page

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


def _version_key(dash: Dashboard, version: int | None = None) -> tuple[str, float]:
    """While pages are open, a figure is computed once per batch of events (however many pages
    ask); with none open the hub hears nothing, so it is kept a second."""
    hub = dash.hub
    if hub.clients:
        return f":{hub.version if version is None else version}", 5.0
    return "", 1.0


async def _counts(dash: Dashboard, version: int | None = None) -> queries.NetworkCounts:
    suffix, ttl = _version_key(dash, version)
    return await cached(dash, "counts" + suffix, ttl, lambda: dash.db.run(queries.network_counts))


async def _energy_today(dash: Dashboard) -> Decimal | None:
    since = _local_midnight(dt.datetime.now(dt.UTC), dash.time_zone())
    return await dash.energy.latest(since, ENERGY_TTL)


def live_figures(dash: Dashboard) -> Callable[[int], Awaitable[dict[str, str]]]:
    """The overview's figures after batch ``version`` as the page shows them, by the name of
    their element (``data-figure``): what every role sees on the overview, nothing more."""

    async def figures(version: int) -> dict[str, str]:
        counts = await _counts(dash, version)
        energy = await _energy_today(dash)
        return {
            "online": str(counts.online),
            "offline": str(counts.stations - counts.online),
            "faulted": str(counts.faulted),
            "transactions": str(counts.active_transactions),
            "energy": format_kwh(energy),
            "v2g": str(counts.active_v2g_sessions),
            "discharge": format_kw(counts.discharge_power_w),
        }

    return figures


def overview_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    dash.hub.figures = live_figures(dash)

    @page(dash)
    async def overview(p: Page) -> Response:
        suffix, ttl = _version_key(dash)
        security = await cached(
            dash,
            "security" + suffix,
            ttl,
            lambda: p.db.run(queries.recent_security_events, limit=10),
        )
        if p.partial:  # the live part an open overview fetches: its figures come by SSE
            return p.render("_overview_live.html", security=security)
        counts = await _counts(dash)
        energy = await _energy_today(dash)
        prices = await cached(dash, "prices", PRICE_TTL, lambda: _prices(p))
        return p.render(
            "overview.html", prices=prices, counts=counts, energy_wh=energy, security=security
        )

    return [("GET", "/", overview)]
