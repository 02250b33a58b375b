"""Grid prices: the price at an instant, an hourly forecast and the best discharge hours (viewer).

Answers come from the node's prices (``ControlPlane.prices``: CCEE's PLD where fetched, the
simulated curve elsewhere, ``pldSource`` says which for every hour). Instants in a query are
ISO 8601 with ``Z`` or an offset; answers give them in the operator's time zone. Money and prices
are decimal strings (``"1.973684"``). A bad ``at``, ``from``, ``to``, ``distributor``,
``submarket``, ``hours``, ``powerKw`` or ``energyKwh`` is a 422 naming it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from starlette.responses import Response

from csms.services.grid_price_book import MAX_HOURS, MarketQuery
from csms.services.grid_price_json import (
    GridPriceQueryError,
    forecast_to_json,
    grid_price_to_json,
    parse_instant,
    parse_query_submarket,
    plan_to_json,
)
from csms.services.tarifa_branca import DISTRIBUTORS

from ._auth import Role
from ._errors import InvalidBody
from ._routing import Call, Endpoint, Param, json_response
from ._schema import structure

__all__ = ["ENDPOINTS"]

# a positive amount (0.001 to 999999.999): what the schema allows, the handler accepts
_AMOUNT = r"^([1-9][0-9]{0,5}(\.[0-9]{1,3})?|0\.[0-9]{0,2}[1-9])$"
# RFC 3339 with an offset, a real calendar date in 2000-2099 (a week's forecast from any of
# them stays inside what the calendar, the zone and datetime can hold)
_DATE = (
    "(20[0-9]{2}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    "|02-(0[1-9]|1[0-9]|2[0-8]))|20(0[048]|[2468][048]|[13579][26])-02-29)"
)
_INSTANT = (
    f"^{_DATE}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{{1,6}})?)?"
    "(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])$"
)
_KILO = Decimal(1000)
_SUBMARKET = "SE (SE/CO), S, NE or N; CCEE's SUDESTE, SUL, NORDESTE, NORTE too."
_SUBMARKETS = ("SE", "SE/CO", "S", "NE", "N", "SUDESTE", "SUL", "NORDESTE", "NORTE")


@attrs.frozen
class GridPriceView:
    """The price at ``at``: the Tarifa Branca post and its price, the month's bandeira, the
    submarket's PLD (``pldSource``: ccee or simulated) and the retail R$/kWh of the price source
    (``priceSource``: regulated, pld or contract; ``simulated`` when it rests on a simulated
    PLD). R$/kWh and R$/MWh as decimal strings."""

    at: str
    distributor: str
    post: str
    is_peak: bool
    tariff_rs_per_kwh: str
    bandeira: str
    bandeira_rs_per_kwh: str
    submarket: str
    pld_rs_per_mwh: str
    pld_source: str
    price_source: str
    retail_rs_per_kwh: str
    simulated: bool


@attrs.frozen
class ForecastHour:
    start: str
    end: str
    post: str
    is_peak: bool
    retail_rs_per_kwh: str
    pld_rs_per_mwh: str
    pld_source: str
    simulated: bool


@attrs.frozen
class ForecastView:
    """``hours`` hourly prices from the hour containing ``at`` (now when omitted)."""

    distributor: str
    submarket: str
    hours: list[ForecastHour]
    simulated: bool


@attrs.frozen
class PlannedHourView:
    start: str
    end: str
    energy_wh: str
    retail_rs_per_kwh: str


@attrs.frozen
class BestHoursView:
    """The most valuable whole hours in [from, to) to discharge ``energyKwh`` at ``powerKw``,
    in time order; ``shortfallWh`` is what the window cannot hold, ``valueRs`` the energy's
    value at the hours' retail prices (to the centavo)."""

    distributor: str
    submarket: str
    hours: list[PlannedHourView]
    energy_wh: str
    shortfall_wh: str
    value_rs: str
    simulated: bool


def _invalid(exc: GridPriceQueryError) -> InvalidBody:
    return InvalidBody(exc.message, field=exc.field)


def _instant(call: Call, name: str, default: dt.datetime) -> dt.datetime:
    raw = call.query[name]
    if raw is None:
        return default
    return parse_instant(raw.strip(), name)


def _market(call: Call) -> MarketQuery:
    raw = call.query["submarket"]
    submarket = None if raw is None else parse_query_submarket(raw)
    return MarketQuery(call.query["distributor"], submarket)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def grid_price(call: Call) -> Response:
    prices = call.control.prices
    try:
        price = await prices.price(_market(call), _instant(call, "at", _now()))
    except GridPriceQueryError as exc:
        raise _invalid(exc) from None
    return json_response(structure(grid_price_to_json(price, prices.time_zone), GridPriceView))


async def grid_forecast(call: Call) -> Response:
    prices = call.control.prices
    try:
        query = _market(call)
        hours = await prices.forecast(query, _instant(call, "at", _now()), call.query["hours"])
    except GridPriceQueryError as exc:
        raise _invalid(exc) from None
    first = hours[0].halves[0]
    view = {
        "distributor": first.distributor,
        "submarket": first.pld.submarket.value,
        "hours": forecast_to_json(hours, prices.time_zone),
        "simulated": any(h.simulated for h in hours),
    }
    return json_response(structure(view, ForecastView))


def _amount(call: Call, name: str) -> Decimal:
    return Decimal(call.query[name])


async def best_hours(call: Call) -> Response:
    prices = call.control.prices
    try:
        query = _market(call)
        start = _instant(call, "from", _now())
        end = _instant(call, "to", start + dt.timedelta(hours=24))
        power_w = _amount(call, "powerKw") * _KILO
        energy_wh = _amount(call, "energyKwh") * _KILO
        plan = await prices.best_hours(query, start, end, power_w, energy_wh)
        at_start = await prices.price(query, start)  # names the distributor and submarket
    except GridPriceQueryError as exc:
        raise _invalid(exc) from None
    view = {
        "distributor": at_start.distributor,
        "submarket": at_start.pld.submarket.value,
        **plan_to_json(plan, prices.time_zone),
    }
    return json_response(structure(view, BestHoursView))


def _market_params() -> tuple[Param, ...]:
    return (
        Param(
            "distributor",
            description="A shipped distributor's code; default: the configured one.",
            enum=tuple(sorted(DISTRIBUTORS)),
        ),
        Param("submarket", description=_SUBMARKET + " Default: configured.", enum=_SUBMARKETS),
    )


def _instant_param(name: str, description: str) -> Param:
    return Param(name, description=description + " ISO 8601 with Z or an offset.", pattern=_INSTANT)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/v2g/grid-price",
        grid_price,
        Role.VIEWER,
        "The grid price at an instant",
        "v2g",
        response=GridPriceView,
        query=(_instant_param("at", "The instant; now when omitted."), *_market_params()),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/grid-price/forecast",
        grid_forecast,
        Role.VIEWER,
        "An hourly grid price forecast",
        "v2g",
        response=ForecastView,
        query=(
            Param("hours", int, "How many hours.", minimum=1, maximum=MAX_HOURS, default=24),
            _instant_param("at", "The first hour's instant; now when omitted."),
            *_market_params(),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/best-hours",
        best_hours,
        Role.VIEWER,
        "The best hours to discharge an energy at a power",
        "v2g",
        response=BestHoursView,
        query=(
            Param("powerKw", description="Discharge power, kW.", required=True, pattern=_AMOUNT),
            Param(
                "energyKwh",
                description="Energy to discharge, kWh.",
                required=True,
                pattern=_AMOUNT,
            ),
            _instant_param("from", "The window's start; now when omitted."),
            _instant_param(
                "to", f"The window's end (at most {MAX_HOURS} h); from + 24 h when omitted."
            ),
            *_market_params(),
        ),
        errors=(422,),
    ),
)
