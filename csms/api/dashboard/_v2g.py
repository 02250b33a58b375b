"""V2G: the discharge sessions, active and past, one session's power and SoC over time, its
owner's preferences and its compensation and payout, the latest compensations, and starting or
stopping a discharge (operator) through the node's discharge sessions."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.responses import RedirectResponse, Response

from csms.storage import compensations, transactions, users, v2g_sessions

from .._auth import Role
from .._control import DischargeStart
from .._errors import ApiError, InvalidBody
from .._send import valid_station_id
from ._activity import chart_series
from ._core import Dashboard, Page, form_page, page

__all__ = ["v2g_routes"]


def _decimal(form: dict[str, str], name: str, low: Decimal, high: Decimal) -> Decimal | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidBody("must be a number", field=name) from None
    if not value.is_finite() or not low <= value <= high:
        raise InvalidBody(f"must be between {low} and {high}", field=name)
    return value


def _start(form: dict[str, str], requested_by: str) -> DischargeStart:
    station = form.get("stationId", "").strip()
    if not valid_station_id(station):
        raise InvalidBody("is not a station id", field="stationId")
    power = _decimal(form, "powerKw", Decimal("0.1"), Decimal(1000))
    if power is None:
        raise InvalidBody("is required", field="powerKw")
    evse = _decimal(form, "evseId", Decimal(1), Decimal(1000))
    minutes = _decimal(form, "durationMinutes", Decimal(1), Decimal(7 * 24 * 60))
    return DischargeStart(
        station_id=station,
        evse_id=None if evse is None else int(evse),
        power_w=power * 1000,
        duration_s=None if minutes is None else int(minutes * 60),
        min_soc_percent=_decimal(form, "minSocPercent", Decimal(0), Decimal(100)),
        requested_by=requested_by,
    )


def _session_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def v2g_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    async def sessions_page(p: Page, status: int = 200, **extra: Any) -> Response:
        db = p.db
        context = {
            "active": await db.run(v2g_sessions.list_sessions, active=True, limit=200),
            "past": await db.run(v2g_sessions.list_sessions, active=False, limit=50),
            "paid": await db.run(compensations.list_compensations, limit=20),
            "can_command": p.can(Role.OPERATOR),
            "error": None,
            "form": {},
            **extra,
        }
        if p.partial and not extra:
            return p.render("_v2g_live.html", **context)
        return p.render("v2g.html", status, **context)

    @page(dash)
    async def sessions(p: Page) -> Response:
        return await sessions_page(p)

    @page(dash)
    async def session(p: Page) -> Response:
        session_id = _session_id(p.request.path_params["sessionId"])
        db = p.db
        row = None if session_id is None else await db.run(v2g_sessions.get, session_id)
        if row is None:
            return p.problem(404, "Not found", "No such discharge session.")
        readings = []
        if row.transaction_id is not None:
            readings = await db.run(
                transactions.meter_values_by_transaction, row.station_id, row.transaction_id
            )
        context = {
            "s": row,
            "compensation": await db.run(compensations.by_session, row.id),
            "preferences": (
                None if row.user_id is None else await db.run(users.get_preferences, row.user_id)
            ),
            "chart": orjson.dumps(chart_series(readings)).decode(),
            "can_command": p.can(Role.OPERATOR),
        }
        if p.partial:
            return p.render("_v2g_session_live.html", **context)
        return p.render("v2g_session.html", **context)

    @form_page(dash, Role.OPERATOR)
    async def start(p: Page, form: dict[str, str]) -> Response:
        try:
            row = await p.control.v2g.start_discharge(_start(form, p.session.principal.name))
        except ApiError as exc:
            return await sessions_page(p, exc.status, error=exc.body()["error"], form=form)
        return RedirectResponse(f"/v2g/{row.id}", status_code=303)

    @form_page(dash, Role.OPERATOR)
    async def stop(p: Page, form: dict[str, str]) -> Response:
        session_id = _session_id(p.request.path_params["sessionId"])
        try:
            row = None
            if session_id is not None:
                row = await p.control.v2g.stop_discharge(
                    session_id, requested_by=p.session.principal.name
                )
        except ApiError as exc:
            return await sessions_page(p, exc.status, error=exc.body()["error"])
        if row is None:
            return p.problem(404, "Not found", "No such discharge session.")
        return RedirectResponse(f"/v2g/{row.id}", status_code=303)

    return [
        ("GET", "/v2g", sessions),
        ("POST", "/v2g/start", start),
        ("GET", "/v2g/{sessionId}", session),
        ("POST", "/v2g/{sessionId}/stop", stop),
    ]
