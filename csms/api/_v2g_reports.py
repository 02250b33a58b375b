"""V2G money statistics and reports (viewer): exported kWh, sessions, gross, margin, net, and
what was paid, is pending or failed, over the compensations of sessions that ended in a period.

``GET /api/v1/v2g/stats`` totals them (for a user, a station, both or all); ``GET
/api/v1/v2g/reports`` gives a row per user or per station (``by``), as JSON or as CSV
(``format=csv``: ``text/csv``, a header row, dot decimals, R$ to the centavo, kWh as stored).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from decimal import Decimal
from typing import Any

import attrs
from starlette.responses import Response

from csms.services.compensation import plain
from csms.storage import payouts

from ._auth import Role
from ._compensation import filter_params, money_text
from ._routing import Call, Endpoint, Param, json_response

__all__ = ["ENDPOINTS"]

_KILO = Decimal(1000)
CSV_COLUMNS = (
    "key", "sessions", "exportedKwh", "grossRs", "marginRs", "netRs", "paidRs", "pendingRs",
    "failedRs",
)  # fmt: skip


@attrs.frozen
class MoneyTotals:
    """``pendingRs``: payouts pending or in flight; ``failedRs``: failed ones; a net of 0 has
    no payout."""

    sessions: int
    exported_kwh: str
    gross_rs: str
    margin_rs: str
    net_rs: str
    paid_rs: str
    pending_rs: str
    failed_rs: str


@attrs.frozen
class StatsView(MoneyTotals):
    user_id: str | None = attrs.field(kw_only=True)
    station_id: str | None = attrs.field(kw_only=True)
    since: dt.datetime | None = attrs.field(kw_only=True)
    until: dt.datetime | None = attrs.field(kw_only=True)


@attrs.frozen
class ReportRowView(MoneyTotals):
    #: The user or station id (null: sessions of no known user).
    key: str | None = attrs.field(kw_only=True)


@attrs.frozen
class ReportView:
    by: str
    items: list[ReportRowView]


def _totals(row: payouts.MoneyStats) -> dict[str, Any]:
    return {
        "sessions": row.sessions,
        "exported_kwh": plain(row.exported_wh / _KILO),
        "gross_rs": money_text(row.gross_brl),
        "margin_rs": money_text(row.margin_brl),
        "net_rs": money_text(row.net_brl),
        "paid_rs": money_text(row.paid_brl),
        "pending_rs": money_text(row.pending_brl),
        "failed_rs": money_text(row.failed_brl),
    }


def _filters(call: Call) -> dict[str, Any]:
    q = call.query
    return {"user_id": q["userId"], "station_id": q["stationId"], "since": q["from"],
            "until": q["to"]}  # fmt: skip


async def stats(call: Call) -> Response:
    filters = _filters(call)
    row = await call.control.database.run(functools.partial(payouts.stats, **filters))
    return json_response(StatsView(**_totals(row), **filters))


async def report(call: Call) -> Response:
    by = call.query["by"]
    fetch = functools.partial(payouts.report, by=by, **_filters(call))
    rows = await call.control.database.run(fetch)
    views = [ReportRowView(**_totals(r), key=r.key) for r in rows]
    if call.query["format"] == "csv":
        return Response(to_csv(views), media_type="text/csv; charset=utf-8")
    return json_response(ReportView(by, views))


def to_csv(rows: list[ReportRowView]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (r.key or "", r.sessions, r.exported_kwh, r.gross_rs, r.margin_rs, r.net_rs,
             r.paid_rs, r.pending_rs, r.failed_rs)
        )  # fmt: skip
    return out.getvalue()


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/v2g/stats",
        stats,
        Role.VIEWER,
        "V2G money totals for a user, a station and a period",
        "v2g",
        response=StatsView,
        query=filter_params(),
        errors=(422,),
        description="Over the compensations of the discharge sessions that ended in [from, to).",
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/reports",
        report,
        Role.VIEWER,
        "A V2G compensation report per user or per station, JSON or CSV",
        "v2g",
        response=ReportView,
        more_media=("text/csv",),
        query=(
            Param(
                "by",
                description="One row per user or per station.",
                enum=("user", "station"),
                default="user",
            ),
            Param(
                "format",
                description="json, or csv (text/csv, a header row, dot decimals).",
                enum=("json", "csv"),
                default="json",
            ),
            *filter_params(),
        ),
        errors=(422,),
        description="CSV columns: " + ", ".join(CSV_COLUMNS) + ".",
    ),
)
