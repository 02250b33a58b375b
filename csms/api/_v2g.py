"""V2G preferences (per user) and what EVs at a station announced they can do.

Preferences are checked by the V2G policy's own parser (``parse_preferences``), after the body
class has checked the types, so the API and the node agree on what a valid preference is; a bad
field is a 422 naming it (``windows.0.start``).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from starlette.responses import Response

from csms.services.v2g_preferences import PreferenceError, parse_preferences, preferences_to_json
from csms.storage import users, v2g

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import unstructure
from ._send import require_station
from ._v2g_bodies import (
    USER_ID_PATTERN,
    Capability,
    CapabilityList,
    V2GPreferencesBody,
    V2GPreferencesView,
)

__all__ = ["ENDPOINTS", "v2g_owner_changed"]

_PREFIX = "/api/v1/v2g"


def v2g_owner_changed(call: Call, user_id: str) -> None:
    """A user's preferences or id tokens changed (committed): what the node's V2X owner decided
    for that user's sessions may no longer hold (Q02.FR.05: the allowed energy transfer changes
    with an opt-in). The one place the API tells the node (its V2X owner)."""
    call.control.v2g_user_changed(user_id)


def _field(path: str) -> str:
    """The policy's ``windows[0].start`` as the API names fields: ``windows.0.start``."""
    return re.sub(r"\[(\d+)\]", r".\1", path)


async def set_preferences(call: Call) -> Response:
    body: V2GPreferencesBody = call.body
    data: dict[str, Any] = unstructure(body)
    try:
        prefs = parse_preferences(data)
    except PreferenceError as exc:
        raise InvalidBody(exc.message, field=_field(exc.field)) from None
    try:
        row = await call.control.database.run(users.upsert_preferences, prefs)
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"no user {prefs.user_id!r}") from None
    v2g_owner_changed(call, prefs.user_id)
    return json_response(preferences_to_json(row.preferences))


async def get_preferences(call: Call) -> Response:
    user_id: str = call.query["userId"]
    row = await call.control.database.run(users.get_preferences, user_id)
    if row is None:
        raise NotFound(f"user {user_id!r} has no V2G preferences (or does not exist)")
    return json_response(preferences_to_json(row.preferences))


def _capability_view(row: v2g.CapabilityRow) -> Capability:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return Capability(
        station_id=row.station_id,
        evse_id=row.evse_id,
        ev_id=row.ev_id,
        bidirectional=row.bidirectional,
        energy_transfer_modes=list(row.energy_transfer_modes),
        max_charge_power_w=number(row.max_charge_power_w),
        max_discharge_power_w=number(row.max_discharge_power_w),
        battery_capacity_wh=number(row.battery_capacity_wh),
        source=row.source,
        raw=row.raw,
        updated_at=row.updated_at,
    )


async def get_capability(call: Call) -> Response:
    station_id = call.path("stationId")
    await require_station(call, station_id)
    rows = await call.control.database.run(v2g.get_capability, station_id)
    return json_response(CapabilityList([_capability_view(r) for r in rows]))


ENDPOINTS = (
    Endpoint(
        "POST",
        _PREFIX + "/preferences",
        set_preferences,
        Role.OPERATOR,
        "Set a user's V2G preferences (replacing earlier ones)",
        "v2g",
        body=V2GPreferencesBody,
        response=V2GPreferencesView,
        errors=(404, 422),
        description="404 when there is no such user; 422 names the bad field"
        " (`minSocPercent`, `windows.0.days.1`, ...). Windows are local times of the operator's"
        " time zone (setting `v2g.time_zone`).",
    ),
    Endpoint(
        "GET",
        _PREFIX + "/preferences",
        get_preferences,
        Role.VIEWER,
        "Get a user's V2G preferences",
        "v2g",
        response=V2GPreferencesView,
        query=(Param("userId", description="The user.", required=True, pattern=USER_ID_PATTERN),),
        errors=(404, 422),
    ),
    Endpoint(
        "GET",
        _PREFIX + "/capability/{stationId}",
        get_capability,
        Role.VIEWER,
        "What the EVs at a station announced they can do, newest first",
        "v2g",
        response=CapabilityList,
        errors=(404,),
        path_docs={"stationId": "The station's identity."},
    ),
)
