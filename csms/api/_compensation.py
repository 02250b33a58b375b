"""V2G compensation: calculate one (operator), list and read the recorded ones (viewer).

``POST /api/v1/v2g/compensation/calculate`` prices either a session (``{sessionId}``: its
recorded compensation once it has one, else what it is worth so far, not stored) or readings
given in the body (``{stationId, priceSource?, readings: [{at, exportRegisterWh}]}``, never
stored) with the station group's price source (``priceSource`` overrides its kind). Money and
prices are decimal strings: totals in R$ to the centavo (rounded once, half-even), an
interval's price and gross unrounded to six places; energy in kWh. A bad body is a 422 naming
the field (``readings.2.at``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

import attrs
from starlette.responses import Response

from csms.services.compensation import CompensationError, RegisterReading, plain
from csms.storage import compensations

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = [
    "ENDPOINTS",
    "UUID_PATTERN",
    "CalculatedInterval",
    "Calculation",
    "MoneyControl",
    "PayoutRunResult",
    "money_text",
    "parse_uuid",
]

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_KILO = Decimal(1000)
_MICRO = Decimal("0.000001")
_SOURCES = ("regulated", "pld", "contract")
_MAX_READINGS = 10_000


# -- what the API asks of the node --------------------------------------------------------------


@attrs.frozen
class CalculatedInterval:
    start: dt.datetime
    end: dt.datetime
    energy_wh: Decimal
    price_rs_per_kwh: Decimal
    gross_rs: Decimal


@attrs.frozen
class Calculation:
    """A compensation as the API shows it (computed now, or as recorded)."""

    exported_wh: Decimal
    gross_rs: Decimal
    margin_rs: Decimal
    net_rs: Decimal
    price_source: str
    station_group: str
    margin_percent: Decimal
    margin_rs_per_kwh: Decimal
    simulated: bool
    intervals: Sequence[CalculatedInterval]
    #: Set when this is the recorded compensation.
    compensation_id: uuid.UUID | None = None


@attrs.frozen
class PayoutRunResult:
    enabled: bool
    claimed: int
    paid: int
    failed: int
    retrying: int


class MoneyControl(Protocol):
    """The node's compensation and payouts (``csms/actors/payouts``)."""

    async def calculate_session(self, session_id: uuid.UUID) -> Calculation | None:
        """The session's recorded compensation, else its worth so far; None: no session."""
        ...

    async def calculate_readings(
        self, station_id: str, price_source: str | None, readings: Sequence[RegisterReading]
    ) -> Calculation:
        """``readings`` priced for the station (``CompensationError`` naming the field)."""
        ...

    async def run_payouts(self) -> PayoutRunResult: ...


# -- wire ----------------------------------------------------------------------------------------


@attrs.frozen
class ReadingBody:
    at: dt.datetime = spec(description="When the register was read (RFC 3339, with an offset).")  # noqa: RUF009
    export_register_wh: float = spec(
        description="Energy.Active.Export.Register, Wh.", minimum=0, example=15201.3
    )


@attrs.frozen
class CalculateBody:
    """Either ``sessionId``, or ``stationId`` with ``readings`` (time order, at least two)."""

    session_id: str | None = spec(None, pattern=UUID_PATTERN)
    station_id: str | None = spec(None, pattern=STATION_ID_PATTERN, example="CP001")
    price_source: str | None = spec(
        None, enum=_SOURCES, description="Default: the station group's source."
    )
    readings: list[ReadingBody] | None = spec(None)  # noqa: RUF009


@attrs.frozen
class MarginView:
    percent: str
    rs_per_kwh: str


@attrs.frozen
class IntervalView:
    start: dt.datetime
    end: dt.datetime
    exported_kwh: str
    price_rs_per_kwh: str
    gross_rs: str


@attrs.frozen
class CalculationView:
    """``grossRs`` is the intervals' value rounded once; ``marginRs`` the margin (``margin``:
    percent of the gross plus R$ per kWh, never above the gross); ``netRs`` what the owner is
    paid. ``simulated``: some price rests on the simulated PLD. ``compensationId`` is set when
    this is the recorded compensation."""

    exported_kwh: str
    gross_rs: str
    margin_rs: str
    net_rs: str
    price_source: str
    station_group: str
    margin: MarginView
    simulated: bool
    intervals: list[IntervalView]
    compensation_id: str | None


def money_text(value: Decimal) -> str:
    """R$ to the centavo, as a decimal string."""
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _six(value: Decimal) -> str:
    return plain(value.quantize(_MICRO, rounding=ROUND_HALF_EVEN))


def calculation_view(c: Calculation) -> CalculationView:
    return CalculationView(
        exported_kwh=plain(c.exported_wh / _KILO),
        gross_rs=money_text(c.gross_rs),
        margin_rs=money_text(c.margin_rs),
        net_rs=money_text(c.net_rs),
        price_source=c.price_source,
        station_group=c.station_group,
        margin=MarginView(plain(c.margin_percent), plain(c.margin_rs_per_kwh)),
        simulated=c.simulated,
        intervals=[
            IntervalView(
                i.start,
                i.end,
                plain(i.energy_wh / _KILO),
                _six(i.price_rs_per_kwh),
                _six(i.gross_rs),
            )
            for i in c.intervals
        ],
        compensation_id=None if c.compensation_id is None else str(c.compensation_id),
    )


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def calculate(call: Call) -> Response:
    body: CalculateBody = call.body
    money = call.control.money
    if body.session_id is not None:
        if body.station_id is not None or body.readings is not None:
            message = "give sessionId, or stationId with readings, not both"
            raise InvalidBody(message, field="sessionId")
        session_id = parse_uuid(body.session_id)
        result = None if session_id is None else await money.calculate_session(session_id)
        if result is None:
            raise NotFound(f"no discharge session {body.session_id}")
        return json_response(calculation_view(result))
    if body.station_id is None:
        raise InvalidBody("sessionId, or stationId with readings, is required", field="stationId")
    if body.readings is None or len(body.readings) < 2:
        raise InvalidBody("at least two readings are needed", field="readings")
    if len(body.readings) > _MAX_READINGS:
        raise InvalidBody(f"at most {_MAX_READINGS} readings", field="readings")
    readings = [RegisterReading(r.at, Decimal(repr(r.export_register_wh))) for r in body.readings]
    try:
        result = await money.calculate_readings(body.station_id, body.price_source, readings)
    except CompensationError as exc:
        raise InvalidBody(exc.message, field=exc.field) from None
    return json_response(calculation_view(result))


# -- recorded compensations ----------------------------------------------------------------------


@attrs.frozen
class CompensationView:
    """A recorded compensation (one per discharge session) and its payout's state (null:
    nothing to pay)."""

    id: str
    session_id: str
    station_id: str
    user_id: str | None
    station_group: str
    price_source: str
    simulated: bool
    exported_kwh: str
    gross_rs: str
    margin_rs: str
    net_rs: str
    margin: MarginView
    session_started_at: dt.datetime | None
    session_ended_at: dt.datetime
    computed_at: dt.datetime
    payout_state: str | None


@attrs.frozen
class CompensationDetail(CompensationView):
    intervals: list[IntervalView] = attrs.field(kw_only=True)


@attrs.frozen
class CompensationList:
    items: list[CompensationView]


def _view(row: compensations.CompensationRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "session_id": str(row.session_id),
        "station_id": row.station_id,
        "user_id": row.user_id,
        "station_group": row.station_group,
        "price_source": row.price_source,
        "simulated": row.simulated,
        "exported_kwh": plain(row.exported_wh / _KILO),
        "gross_rs": money_text(row.gross_brl),
        "margin_rs": money_text(row.margin_brl),
        "net_rs": money_text(row.net_brl),
        "margin": MarginView(plain(row.margin_percent), plain(row.margin_brl_per_kwh)),
        "session_started_at": row.session_started_at,
        "session_ended_at": row.session_ended_at,
        "computed_at": row.computed_at,
        "payout_state": row.payout_state,
    }


async def list_all(call: Call) -> Response:
    q = call.query
    rows = await call.control.database.run(
        compensations.list_compensations,
        user_id=q["userId"],
        station_id=q["stationId"],
        since=q["from"],
        until=q["to"],
        limit=q["limit"],
    )
    return json_response(CompensationList([CompensationView(**_view(r)) for r in rows]))


async def get_one(call: Call) -> Response:
    text = call.path("compensationId")
    compensation_id = parse_uuid(text)
    row = (
        None
        if compensation_id is None
        else await call.control.database.run(compensations.get, compensation_id)
    )
    if row is None:
        raise NotFound(f"no compensation {text!r}")
    intervals = await call.control.database.run(compensations.intervals, row.id)
    views = [
        IntervalView(
            i.starts_at, i.ends_at, plain(i.energy_wh / _KILO), _six(i.price_brl_per_kwh),
            _six(i.gross_brl),
        )
        for i in intervals
    ]  # fmt: skip
    return json_response(CompensationDetail(**_view(row), intervals=views))


def filter_params() -> tuple[Param, ...]:
    """userId, stationId, from, to: the money endpoints' filters."""
    return (
        Param("userId", description="Only this user's.", pattern=r"^[^\u0000]{1,100}$"),
        Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
        Param("from", dt.datetime, "Sessions that ended at or after (RFC 3339)."),
        Param("to", dt.datetime, "Sessions that ended before (RFC 3339)."),
    )


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/v2g/compensation/calculate",
        calculate,
        Role.OPERATOR,
        "Calculate a discharge session's compensation, or price export register readings",
        "v2g",
        body=CalculateBody,
        response=CalculationView,
        errors=(404, 422),
        body_rules=(
            "Either sessionId alone, or stationId with readings (at least two, in strictly "
            "rising time, with their offset); priceSource names a configured kind."
        ),
        description=(
            "`{sessionId}`: the session's recorded compensation, or its worth so far (not "
            "stored). `{stationId, priceSource?, readings}`: the readings priced for the "
            "station, never stored. Energy per interval is the export register's difference; "
            "intervals are cut at the half hours (where posts, the PLD hour and the bandeira "
            "month change) and priced each; the margin comes off the gross, rounded once."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/compensations",
        list_all,
        Role.VIEWER,
        "List recorded compensations, newest session end first",
        "v2g",
        response=CompensationList,
        query=(
            *filter_params(),
            Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/compensations/{compensationId}",
        get_one,
        Role.VIEWER,
        "Get a recorded compensation with its priced intervals",
        "v2g",
        response=CompensationDetail,
        errors=(404,),
        path_docs={"compensationId": "The compensation's id."},
    ),
)
