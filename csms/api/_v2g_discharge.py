"""V2G discharge sessions: start and stop one, change its power (operator), read one or a list
(viewer).

A start is decided by the node's discharge sessions (``ControlPlane.v2g``): 201 with the session
once the station was commanded, 202 with the session ``negotiating`` when the EV first has to
renegotiate a bidirectional mode, 409 with a stable code when discharge is refused
(``DISCHARGE_REFUSALS``). Power on the wire is in kW (positive: the power the EV gives), energy
in Wh, SoC in percent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import get_args

import attrs
from starlette.responses import Response

from csms.services.v2g_session import StartRefusal
from csms.storage.v2g_sessions import SessionRow, get, list_sessions

from ._auth import Role
from ._control import DischargeStart
from ._errors import Conflict, InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = ["DISCHARGE_REFUSALS", "ENDPOINTS", "V2GSession", "session_view"]

#: The stable codes of a refused start (409), as docs/V2G.md names them.
DISCHARGE_REFUSALS: tuple[str, ...] = get_args(StartRefusal)

_KW = Decimal(1000)
# 1 MW: more than any EV gives back; a typo in kW (W given) is refused rather than commanded.
_MAX_POWER_KW = 1000.0
_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


@attrs.frozen
class DischargeStartBody:
    """Start discharging the EV on ``evseId`` (the station's only active transaction's EVSE
    when omitted) at ``powerKw``, for ``durationMinutes`` at most, never below
    ``minSocPercent`` (the owner's floor when omitted; a higher one may be given)."""

    station_id: str = spec(pattern=STATION_ID_PATTERN, example="CP001")
    power_kw: float = spec(
        description="Discharge power, kW (positive).",
        exclusive_minimum=0,
        maximum=_MAX_POWER_KW,
        example=7.4,
    )
    evse_id: int | None = spec(None, minimum=1, maximum=2**31 - 1)
    duration_minutes: int | None = spec(None, minimum=1, maximum=7 * 24 * 60)
    min_soc_percent: float | None = spec(None, description="SoC floor, %.", minimum=10, maximum=100)


@attrs.frozen
class DischargeStopBody:
    session_id: str = spec(pattern=_UUID, example=str(uuid.UUID(int=1)))


@attrs.frozen
class DischargePowerBody:
    session_id: str = spec(pattern=_UUID, example=str(uuid.UUID(int=1)))
    power_kw: float = spec(
        description="The new discharge power, kW (positive).",
        exclusive_minimum=0,
        maximum=_MAX_POWER_KW,
        example=3.7,
    )


@attrs.frozen
class V2GSession:
    """A discharge session. Every key is present; ``endedAt`` and ``endReason`` are null
    while it is active. ``state``: requested, negotiating, starting, discharging, stopping,
    completed or failed. ``exportedWh``: the export register's last reading minus the
    session's first."""

    id: str
    station_id: str
    evse_id: int
    transaction_id: str | None
    user_id: str | None
    state: str
    requested_power_kw: float
    setpoint_kw: float | None
    min_soc_percent: float
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    exported_wh: float
    start_soc: float | None
    last_soc: float | None
    last_power_kw: float | None
    operation_mode: str | None
    ends_by: dt.datetime | None
    requested_by: str
    created_at: dt.datetime


@attrs.frozen
class V2GSessionList:
    items: list[V2GSession]


def session_view(row: SessionRow) -> V2GSession:
    return V2GSession(
        id=str(row.id),
        station_id=row.station_id,
        evse_id=row.evse_id,
        transaction_id=row.transaction_id,
        user_id=row.user_id,
        state=row.state,
        requested_power_kw=row.requested_power_kw,
        setpoint_kw=row.setpoint_kw,
        min_soc_percent=float(row.min_soc_percent),
        started_at=row.started_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        exported_wh=float(row.energy_exported_wh),
        start_soc=row.start_soc,
        last_soc=row.last_soc,
        last_power_kw=row.last_power_kw,
        operation_mode=row.operation_mode,
        ends_by=row.window_end_at,
        requested_by=row.requested_by,
        created_at=row.created_at,
    )


def _start_request(body: DischargeStartBody, requested_by: str) -> DischargeStart:
    floor = body.min_soc_percent
    return DischargeStart(
        station_id=body.station_id,
        evse_id=body.evse_id,
        power_w=Decimal(repr(body.power_kw)) * _KW,
        duration_s=None if body.duration_minutes is None else body.duration_minutes * 60,
        min_soc_percent=None if floor is None else Decimal(repr(floor)),
        requested_by=requested_by,
    )


async def start(call: Call) -> Response:
    row = await call.control.v2g.start_discharge(_start_request(call.body, call.requested_by))
    return json_response(session_view(row), 202 if row.state == "negotiating" else 201)


def _session_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def stop(call: Call) -> Response:
    session_id = _session_id(call.body.session_id)
    if session_id is None:
        raise InvalidBody("must be a session id (a UUID)", field="sessionId")
    row = await call.control.v2g.stop_discharge(session_id, requested_by=call.requested_by)
    if row is None:
        raise NotFound(f"no discharge session {session_id}")
    return json_response(session_view(row))


#: The states in which a session takes a new power (the policy ignores it in the others).
_POWERED = ("starting", "discharging")


async def change_power(call: Call) -> Response:
    session_id = _session_id(call.body.session_id)
    if session_id is None:
        raise InvalidBody("must be a session id (a UUID)", field="sessionId")
    power_w = Decimal(repr(call.body.power_kw)) * _KW
    row = await call.control.v2g.change_discharge_power(session_id, power_w)
    if row is None:
        raise NotFound(f"no discharge session {session_id}")
    if row.ended_at is not None:
        raise Conflict(f"discharge session {session_id} has ended", code="session_ended")
    if row.state not in _POWERED:
        raise Conflict(
            f"discharge session {session_id} is {row.state}", code="session_not_discharging"
        )
    return json_response(session_view(row))


async def get_one(call: Call) -> Response:
    session_id = _session_id(call.path("sessionId"))
    row = None if session_id is None else await call.control.database.run(get, session_id)
    if row is None:
        raise NotFound(f"no discharge session {call.path('sessionId')!r}")
    return json_response(session_view(row))


async def list_all(call: Call) -> Response:
    q = call.query
    rows = await call.control.database.run(
        list_sessions,
        active=q["active"],
        station_id=q["stationId"],
        user_id=q["userId"],
        limit=q["limit"],
    )
    return json_response(V2GSessionList([session_view(r) for r in rows]))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/v2g/discharge/start",
        start,
        Role.OPERATOR,
        "Start discharging an EV",
        "v2g",
        ok=201,
        body=DischargeStartBody,
        response=V2GSession,
        errors=(202, 409, 422),
        description=(
            "Checks the EV's bidirectional capability, its owner's preferences (opt-in, SoC "
            "floor, maximum power, windows), the SoC and the station's operation modes, then "
            "commands the station. 202: the EV announced a bidirectional mode but charges in "
            "a unidirectional one; it was asked to renegotiate and the session is "
            "`negotiating`. 409 codes: " + ", ".join(DISCHARGE_REFUSALS) + "."
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/v2g/discharge/stop",
        stop,
        Role.OPERATOR,
        "Stop a discharge session (charging is restored)",
        "v2g",
        body=DischargeStopBody,
        response=V2GSession,
        errors=(404, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/v2g/discharge/power",
        change_power,
        Role.OPERATOR,
        "Change a running discharge's power",
        "v2g",
        body=DischargePowerBody,
        response=V2GSession,
        errors=(404, 409, 422),
        description=(
            "The new power is capped as at the start (the owner's and the EV's maximum) and "
            "sent to the station: UpdateDynamicSchedule for a 2.1 Dynamic profile (Q04), else "
            "a new profile. 409 codes: session_ended (the session is over), "
            "session_not_discharging (still negotiating, or stopping)."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/session/{sessionId}",
        get_one,
        Role.VIEWER,
        "Get a discharge session",
        "v2g",
        response=V2GSession,
        errors=(404,),
        path_docs={"sessionId": "The session's id."},
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/sessions",
        list_all,
        Role.VIEWER,
        "List discharge sessions, newest first",
        "v2g",
        response=V2GSessionList,
        query=(
            Param("active", bool, "Only active (true) or ended (false) ones."),
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("userId", description="Only this user's.", pattern=r"^[^\u0000]{1,100}$"),
            Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
)
