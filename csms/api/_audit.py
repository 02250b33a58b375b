"""The command audit: every CSMS-to-station call, who asked, and how it ended."""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from starlette.responses import Response

from csms.storage import commands

from ._auth import Role
from ._errors import NotFound
from ._queries import command_key, decode_cursor, split_page
from ._routing import Call, Endpoint, Param, json_response
from .bodies import STATION_ID_PATTERN, Command, CommandPage

__all__ = ["ENDPOINTS"]

STATUSES = ("pending", "sent", "responded", "error", "timeout", "failed", "abandoned")


def command_view(row: commands.CommandRow) -> Command:
    return Command(
        id=str(row.id),
        station_id=row.station_id,
        action=row.action,
        requested_by=row.requested_by,
        node_id=row.node_id,
        message_id=row.message_id,
        status=row.status,
        payload=row.payload,
        response=row.response,
        error_code=row.error_code,
        error_description=row.error_description,
        requested_at=row.requested_at,
        sent_at=row.sent_at,
        completed_at=row.completed_at,
    )


async def list_all(call: Call) -> Response:
    q = call.query
    limit = q["limit"]
    fetch = functools.partial(
        commands.list_commands,
        station_id=q["stationId"],
        action=q["action"],
        status=q["status"],
        requested_by=q["requestedBy"],
        since=q["since"],
        until=q["until"],
        after=command_key(decode_cursor(q["cursor"], 2)),
        limit=limit + 1,
    )
    page, cursor = split_page(
        await call.control.database.run(fetch),
        limit,
        lambda row: (row.requested_at.isoformat(), str(row.id)),
    )
    return json_response(CommandPage([command_view(r) for r in page], cursor))


async def get_one(call: Call) -> Response:
    raw = call.path("commandId")
    try:
        command_id = uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no command {raw!r}") from None
    row = await call.control.database.run(commands.get, command_id)
    if row is None:
        raise NotFound(f"no command {raw!r}")
    return json_response(command_view(row))


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/commands",
        list_all,
        Role.VIEWER,
        "List audited commands, newest first",
        "commands",
        response=CommandPage,
        query=(
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("action", description="Only this OCPP action.", pattern=r"^[A-Za-z0-9]{1,64}$"),
            Param("status", description="Only this status.", enum=STATUSES),
            Param(
                "requestedBy",
                description="Only commands sent with this token name.",
                pattern=r"^[!-~]{1,100}$",
            ),
            Param("since", dt.datetime, "Requested at or after (RFC 3339)."),
            Param("until", dt.datetime, "Requested before (RFC 3339)."),
            Param("limit", int, "Page size.", minimum=1, maximum=1000, default=100),
            Param("cursor", description="The `next` of the previous page."),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/commands/{commandId}",
        get_one,
        Role.VIEWER,
        "Get one audited command",
        "commands",
        response=Command,
        errors=(404,),
        path_docs={"commandId": "The command id (a UUID) the command's reply gave."},
    ),
)
