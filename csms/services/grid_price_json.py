"""Grid prices between the REST API and the price service: the query's instant in, JSON out (pure).

``GET /api/v1/v2g/grid-price?at=`` takes ISO 8601 with ``Z`` or an offset (a time without one is
ambiguous and refused, 422 naming ``at``); answers give instants in the operator's time zone.
Amounts are decimal strings (``"1.973684"``): prices to 6 places, half-even (the computation keeps
full precision; only the display is cut), money (``valueRs``) to the centavo.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from .field_error import FieldError
from .pld import PldError, Submarket, parse_submarket
from .price_forecast import DischargePlan, HourForecast
from .retail_price import GridPrice

__all__ = [
    "GridPriceQueryError",
    "forecast_to_json",
    "grid_price_to_json",
    "parse_instant",
    "parse_query_submarket",
    "plan_to_json",
]

PRICE_PLACES: Final = Decimal("0.000001")


class GridPriceQueryError(FieldError):
    """A bad query parameter; ``field`` names it (the API answers 422)."""


def parse_instant(text: Any, field: str = "at") -> dt.datetime:
    """An ISO 8601 instant with ``Z`` or an offset, as UTC."""
    try:
        value = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        value = None
    if value is None:
        raise GridPriceQueryError(field, f"{text!r} is no ISO 8601 date and time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise GridPriceQueryError(field, "needs Z or an offset (2026-06-10T18:00:00-03:00)")
    return value.astimezone(dt.UTC)


def parse_query_submarket(text: Any, field: str = "submarket") -> Submarket:
    try:
        return parse_submarket(text, field=field)
    except PldError as exc:
        raise GridPriceQueryError(exc.field, exc.message) from None


def _price(value: Decimal) -> str:
    return format(value.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN).normalize(), "f")


def _local(at: dt.datetime, tz: dt.tzinfo) -> str:
    return at.astimezone(tz).isoformat()


def grid_price_to_json(price: GridPrice, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "at": _local(price.at, tz),
        "distributor": price.distributor,
        "post": price.post.value,
        "isPeak": price.is_peak,
        "tariffRsPerKwh": _price(price.tariff_rs_per_kwh),
        "bandeira": price.bandeira.value,
        "bandeiraRsPerKwh": _price(price.bandeira_rs_per_kwh),
        "submarket": price.pld.submarket.value,
        "pldRsPerMwh": _price(price.pld.rs_per_mwh),
        "pldSource": price.pld.source,
        "priceSource": price.source.value,
        "retailRsPerKwh": _price(price.retail_rs_per_kwh),
        "simulated": price.simulated,
    }


def forecast_to_json(hours: tuple[HourForecast, ...], tz: dt.tzinfo) -> list[dict[str, Any]]:
    return [
        {
            "start": _local(h.start, tz),
            "end": _local(h.end, tz),
            "post": h.post.value,
            "isPeak": h.is_peak,
            "retailRsPerKwh": _price(h.retail_rs_per_kwh),
            "pldRsPerMwh": _price(h.halves[0].pld.rs_per_mwh),
            "pldSource": h.halves[0].pld.source,
            "simulated": h.simulated,
        }
        for h in hours
    ]


def plan_to_json(plan: DischargePlan, tz: dt.tzinfo) -> dict[str, Any]:
    return {
        "hours": [
            {
                "start": _local(h.start, tz),
                "end": _local(h.end, tz),
                "energyWh": str(h.energy_wh),
                "retailRsPerKwh": _price(h.retail_rs_per_kwh),
            }
            for h in plan.hours
        ],
        "energyWh": str(plan.energy_wh),
        "shortfallWh": str(plan.shortfall_wh),
        "valueRs": str(plan.value_rs),
        "simulated": plan.simulated,
    }
