"""Stations: register, list, get, update the registration status, delete, rotate the password."""

from __future__ import annotations

import functools

import psycopg
from starlette.responses import Response

from csms.storage import NotFound as RowNotFound
from csms.storage import stations
from csms.transport import generate_password, hash_password, is_strong_password

from ._auth import Role
from ._errors import Conflict, InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import unstructure
from ._send import require_station, valid_station_id
from .bodies import (
    STATION_ID_PATTERN,
    NewPassword,
    Station,
    StationPage,
    StationRegistration,
    StationUpdate,
)

__all__ = ["ENDPOINTS"]

_PREFIX = "/api/v1/stations"


def station_view(row: stations.StationRow, live: dict[str, object] | None = None) -> Station:
    return Station(
        id=row.id,
        security_profile=row.security_profile,
        registration_status=row.registration_status,
        connected=row.node_id is not None,
        node_id=row.node_id,
        connected_since=row.connected_since,
        last_seen_at=row.last_seen_at,
        ocpp_version=row.ocpp_version,
        vendor_name=row.vendor_name,
        model=row.model,
        serial_number=row.serial_number,
        firmware_version=row.firmware_version,
        last_boot_at=row.last_boot_at,
        last_boot_reason=row.last_boot_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        live=live,
        bidirectional=bool(row.bidirectional),
    )


async def register(call: Call) -> Response:
    body: StationRegistration = call.body
    if body.password is None:
        if body.security_profile != 3:
            raise InvalidBody(
                "a password is required for security profiles 1 and 2", field="password"
            )
        hashed = None
    elif not is_strong_password(body.password):
        raise InvalidBody(
            "a password has 16 to 40 characters: letters, digits and * - _ = : + | @ .",
            field="password",
            code="weak_password",
        )
    else:
        hashed = hash_password(body.password)
    create = functools.partial(
        stations.create,
        password_hash=hashed,
        security_profile=body.security_profile,
        registration_status=body.registration_status,
        bidirectional=body.bidirectional,
    )
    try:
        row = await call.control.database.run(create, body.id)
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"station {body.id!r} is already registered", code="exists") from None
    return json_response(station_view(row), 201, {"Location": f"{_PREFIX}/{row.id}"})


async def list_stations(call: Call) -> Response:
    limit = call.query["limit"]
    fetch = functools.partial(
        stations.list_stations,
        after=call.query["after"],
        limit=limit + 1,
        connected=call.query["connected"],
    )
    rows = await call.control.database.run(fetch)
    page = rows[:limit]
    more = len(rows) > limit
    return json_response(
        StationPage([station_view(r) for r in page], page[-1].id if more and page else None)
    )


async def get_station(call: Call) -> Response:
    station_id = call.path("stationId")
    row = await require_station(call, station_id)
    snapshot = await call.control.station_snapshot(station_id)
    live = unstructure(snapshot) if snapshot is not None else None  # else the stored row
    return json_response(station_view(row, live))


async def update_station(call: Call) -> Response:
    station_id = call.path("stationId")
    body: StationUpdate = call.body
    await _write(call, station_id, stations.set_registration_status, body.registration_status)
    return json_response(station_view(await require_station(call, station_id)))


async def delete_station(call: Call) -> Response:
    station_id = call.path("stationId")
    await require_station(call, station_id)
    # none of its buffered records (connector status, presence) may land after the DELETE
    await call.control.disconnect_station(station_id)
    try:
        await call.control.database.run(stations.delete, station_id)
    except RowNotFound:
        raise NotFound(f"no station {station_id!r}") from None
    return Response(status_code=204)


async def rotate_password(call: Call) -> Response:
    station_id = call.path("stationId")
    password = generate_password(32)
    await _write(call, station_id, stations.set_password_hash, hash_password(password))
    return json_response(NewPassword(password))


async def _write(call: Call, station_id: str, fn: object, value: object) -> None:
    if not valid_station_id(station_id):
        raise NotFound(f"no station {station_id!r}")
    try:
        await call.control.database.run(fn, station_id, value)  # type: ignore[arg-type]
    except RowNotFound:
        raise NotFound(f"no station {station_id!r}") from None


_ID_DOC = {"stationId": "The station's identity (its OCPP-J URL path segment)."}

ENDPOINTS = (
    Endpoint(
        "POST",
        _PREFIX,
        register,
        Role.ADMIN,
        "Register a station",
        "stations",
        ok=201,
        body=StationRegistration,
        response=Station,
        errors=(409, 422),
        description="409 `exists` if the id is taken; 422 `weak_password` naming `password`.",
    ),
    Endpoint(
        "GET",
        _PREFIX,
        list_stations,
        Role.VIEWER,
        "List stations, in id order",
        "stations",
        response=StationPage,
        query=(
            Param(
                "after", description="The last id of the previous page.", pattern=STATION_ID_PATTERN
            ),
            Param("limit", int, "Page size.", minimum=1, maximum=1000, default=100),
            Param("connected", bool, "Only connected (true) or disconnected (false) ones."),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        _PREFIX + "/{stationId}",
        get_station,
        Role.VIEWER,
        "Get a station (with its live state when this node holds its connection)",
        "stations",
        response=Station,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "PATCH",
        _PREFIX + "/{stationId}",
        update_station,
        Role.ADMIN,
        "Set the registration status answered to the station's next BootNotification",
        "stations",
        body=StationUpdate,
        response=Station,
        errors=(404, 422),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "DELETE",
        _PREFIX + "/{stationId}",
        delete_station,
        Role.ADMIN,
        "Delete a station (closing its connection); its command audit is kept",
        "stations",
        ok=204,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "POST",
        _PREFIX + "/{stationId}/password",
        rotate_password,
        Role.ADMIN,
        "Rotate the station's Basic-auth password; the new one is returned once",
        "stations",
        response=NewPassword,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
)
