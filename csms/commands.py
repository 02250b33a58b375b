"""The command contract between whoever sends a command to a station (the REST API, any actor)
and whoever delivers it (the node's station actors, later another node over NATS): the
``StationGateway`` protocol, the ``CommandResult`` it returns and the typed ``CommandError``\\ s
it raises.

Every command error is a ``Rejected`` (an actor's reply, not a crash: the station actor carries
on). Each carries a stable ``code`` that the REST API turns into its status and error body.

::

    CommandError(Rejected)
    ├── InvalidCommand          unknown action, or a payload its schema refuses   (422)
    ├── CommandNotAllowed       OCPP-J forbids sending now (station Rejected)     (409)
    ├── StationDisconnected     the station went away before answering           (409)
    │   └── StationNotConnected     no connection to it: nothing was sent
    ├── StationTimeout          no answer within the response timeout, or the
    │                           caller's deadline passed while it waited         (504)
    ├── StationCallError        the station answered with a CALLERROR            (502)
    ├── StationFailed           its connection failed while sending it           (502)
    └── CommandAbandoned        the caller gave up before it was sent: it never
                                was (audited ``abandoned``; nobody is told)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from csms.runtime import Rejected

__all__ = [
    "CommandAbandoned",
    "CommandError",
    "CommandNotAllowed",
    "CommandResult",
    "InvalidCommand",
    "StationCallError",
    "StationDisconnected",
    "StationFailed",
    "StationGateway",
    "StationNotConnected",
    "StationTimeout",
    "queued_too_long",
]


class StationGateway(Protocol):
    """Sends one command to one station and returns its answer.

    The deadline is absolute, on trio's clock (``trio.current_time()``), and covers the whole
    command: the wait behind earlier commands, and the station's answer. A command whose caller
    has given up before it is sent never is (audited ``abandoned``).
    """

    def is_connected(self, station_id: str) -> bool:
        """Whether a command to ``station_id`` can be sent through this gateway now."""
        ...

    def would_wait(self, station_id: str) -> bool:
        """Whether a command to ``station_id`` sent now would wait behind others (a caller that
        may go away meanwhile then watches for that, so the command is dropped unsent). A
        gateway that cannot tell says True."""
        ...

    async def send(
        self,
        station_id: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        requested_by: str,
        deadline: float,
    ) -> CommandResult:
        """Send ``action`` with ``payload`` (wire JSON) and return the station's answer;
        raises a ``CommandError``, ``StationTimeout`` at ``deadline`` at the latest. A caller
        whose own cancel scope ends at or before ``deadline`` is cancelled by it instead (it
        knows what its scope means)."""
        ...


@attrs.frozen
class CommandResult:
    """A command's answer. ``response`` is the data; ``message`` is derived from it (a gateway
    that gets the answer from another node rebuilds it with ``structure_payload``)."""

    command_id: str
    action: str
    response: Mapping[str, Any]  # the station's response payload, as on the wire
    message: Any  # the same, as the generated response class


class CommandError(Rejected):
    code = "command_failed"

    def __init__(self, message: str, *, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


class InvalidCommand(CommandError):
    code = "invalid_command"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CommandNotAllowed(CommandError):
    code = "not_allowed"


class StationDisconnected(CommandError):
    code = "station_disconnected"


class StationNotConnected(StationDisconnected):
    """No connection to the station (on this node): nothing was sent."""


class StationTimeout(CommandError):
    code = "station_timeout"


class StationFailed(CommandError):
    """The station's connection failed (its actor crashed) while the command was in hand."""

    code = "station_failed"


class CommandAbandoned(CommandError):
    """Its caller gave up (deadline passed, ask abandoned) before it was sent: it never was."""

    code = "command_abandoned"


class StationCallError(CommandError):
    code = "station_error"

    def __init__(
        self,
        message: str,
        *,
        ocpp_code: str,
        description: str,
        details: Mapping[str, Any],
        command_id: str | None = None,
    ) -> None:
        super().__init__(message, command_id=command_id)
        self.ocpp_code = ocpp_code
        self.description = description
        self.details = details


def queued_too_long(station_id: str, action: str) -> StationTimeout:
    """The error of a command whose deadline passed before the station answered it."""
    return StationTimeout(
        f"{station_id} did not answer {action} in time (commands queued before it)"
    )
