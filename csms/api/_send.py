"""Sending a command to a station through the node's ``StationGateway``, and the HTTP errors
its outcomes map to.

The fast path touches no database: the gateway finds a connected station in the node's
registry. Only a station that is not connected costs a lookup, to tell "unknown" (404) from
"offline" (409).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import outcome
import trio

from csms.commands import (
    CommandError,
    CommandNotAllowed,
    CommandResult,
    InvalidCommand,
    StationCallError,
    StationDisconnected,
    StationFailed,
    StationNotConnected,
    StationTimeout,
    queued_too_long,
)
from csms.storage import stations

from ._errors import Conflict, GatewayTimeout, InvalidBody, NotFound, Unavailable
from ._errors import StationFailed as StationFailedError
from ._routing import Call
from .bodies import STATION_ID_PATTERN

__all__ = ["require_station", "send_command", "valid_station_id"]

_STATION_ID = re.compile(STATION_ID_PATTERN)
#: Beyond the response timeout: time a command may wait in the station's mailbox behind others.
QUEUE_ALLOWANCE = 5.0


def valid_station_id(station_id: str) -> bool:
    return _STATION_ID.fullmatch(station_id) is not None


async def require_station(call: Call, station_id: str) -> stations.StationRow:
    """The registered station, or 404."""
    row = None
    if valid_station_id(station_id):
        row = await call.control.database.run(stations.get, station_id)
    if row is None:
        raise NotFound(f"no station {station_id!r}")
    return row


async def _not_connected(call: Call, station_id: str) -> Conflict:
    """409 for a registered station that is not connected (404 if there is no such station)."""
    await require_station(call, station_id)
    return Conflict(f"station {station_id!r} is not connected", code="station_disconnected")


def _conflict_text(exc: CommandError) -> str:
    # A command with an id was sent: the station may have received it, even carried it out,
    # before its connection ended (SPEC: the audit row is "failed", error code Disconnected).
    if isinstance(exc, StationDisconnected) and exc.command_id is not None:
        return f"{exc}; the command was sent, its outcome is unknown (see the command audit)"
    return str(exc)


async def send_command(
    call: Call, station_id: str, action: str, payload: Mapping[str, Any]
) -> CommandResult:
    gateway = call.control.gateway
    if not gateway.is_connected(station_id):
        raise await _not_connected(call, station_id)
    state = call.state
    started = trio.current_time()
    deadline = started + call.control.response_timeout + QUEUE_ALLOWANCE
    result_kind = "error"
    scope: trio.CancelScope | None = None
    client = _Client(call.request.receive)
    try:
        # the command's only cancel scope: its deadline, the drain at shutdown (the gateway
        # then opens none of its own), or the client going away while the command waits
        scope = state.open_command(deadline)
        with scope:

            async def send() -> CommandResult:
                return await gateway.send(
                    station_id, action, payload, requested_by=call.requested_by, deadline=deadline
                )

            try:
                if gateway.would_wait(station_id):
                    result = await client.watching(scope, send)
                else:  # taken at once: sent before a client that goes away could be noticed
                    result = await send()
            except InvalidCommand as exc:
                result_kind = "invalid"
                raise InvalidBody(str(exc), field=exc.field or "", code=exc.code) from None
            except StationNotConnected:
                raise await _not_connected(call, station_id) from None
            except (CommandNotAllowed, StationDisconnected) as exc:
                raise Conflict(
                    _conflict_text(exc), code=exc.code, commandId=exc.command_id
                ) from None
            except StationTimeout as exc:
                result_kind = "timeout"
                raise GatewayTimeout(str(exc), code=exc.code, commandId=exc.command_id) from None
            except StationCallError as exc:
                result_kind = "callerror"
                raise StationFailedError(
                    str(exc),
                    code=exc.code,
                    commandId=exc.command_id,
                    ocppCode=exc.ocpp_code,
                    description=exc.description,
                    details=dict(exc.details) or None,
                ) from None
            except StationFailed as exc:
                raise StationFailedError(str(exc), code=exc.code) from None
            except CommandError as exc:
                # the station answered, but the node could not finish its part (the database
                # did not store a password the station accepted): the caller should try again
                raise Unavailable(str(exc), code=exc.code, commandId=exc.command_id) from None
            result_kind = "ok"
            return result
        if client.gone:
            result_kind = "abandoned"
            raise Unavailable(
                "the client went away before the command was sent; it never will be",
                code="client_disconnected",
            )
        if trio.current_time() >= deadline:
            result_kind = "timeout"
            late = queued_too_long(station_id, action)
            raise GatewayTimeout(str(late), code=late.code)
        raise Unavailable(
            "the node stopped before the station answered; the command audit has the outcome",
            code="shutting_down",
        )
    finally:
        if scope is not None:
            state.close_command(scope)
        state.metrics.observe(
            "csms_api_command_duration_seconds",
            trio.current_time() - started,
            action=action,
            outcome=result_kind,
        )


class _Client:
    """Watches the HTTP client of a command that has to wait behind others: when it goes away
    (the ASGI ``http.disconnect``), the command's scope is cancelled, and the station actor
    drops the command unsent (audited ``abandoned``). A command taken at once is not watched:
    it is on the wire before a disconnect could be seen, and a watcher task costs every call."""

    __slots__ = ("gone", "receive")

    def __init__(self, receive: Callable[[], Awaitable[MutableMapping[str, Any]]]) -> None:
        self.receive = receive
        self.gone = False

    async def watching(
        self, scope: trio.CancelScope, send: Callable[[], Awaitable[CommandResult]]
    ) -> CommandResult:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch, scope)
            # captured, so that the command's own errors leave the nursery as they are
            answer = await outcome.acapture(send)
            nursery.cancel_scope.cancel()
        return answer.unwrap()

    async def _watch(self, scope: trio.CancelScope) -> None:
        while True:  # the request's body was read already: what comes next is the disconnect
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                scope.cancel()
                return
