"""Messages a station actor accepts, and the errors its commands end with.

Every command error is a ``Rejected`` (a reply, not a crash): the actor carries on. Each carries
a stable ``code`` that the REST API turns into its status and error body.

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
from typing import Any

import attrs

from csms.runtime import Rejected


@attrs.frozen
class SendCommand:
    """Send ``action`` with ``payload`` (wire JSON) and wait for the station's answer."""

    action: str
    payload: Mapping[str, Any]
    requested_by: str = "system"
    timeout: float | None = None  # None: the node's response timeout
    #: The caller's absolute deadline (``trio.current_time()`` clock): a command still waiting
    #: in the mailbox then is never sent (nor one whose ``ask`` was given up before).
    deadline: float | None = None


@attrs.frozen
class CommandResult:
    """A command's answer. ``response`` is the data; ``message`` is derived from it (a gateway
    that gets the answer from another node rebuilds it with ``structure_payload``)."""

    command_id: str
    action: str
    response: Mapping[str, Any]  # the station's response payload, as on the wire
    message: Any  # the same, as the generated response class


@attrs.frozen
class GetSnapshot:
    """Ask for the station's live state (a ``StationSnapshot``)."""


@attrs.frozen
class Disconnect:
    """Close the station's connection (it may reconnect)."""

    reason: str = "closed by the CSMS"


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
