"""Messages a station actor accepts. The errors its commands end with, and ``CommandResult``,
are the command contract of ``csms.commands``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from csms.commands import (
    CommandAbandoned,
    CommandError,
    CommandNotAllowed,
    CommandResult,
    InvalidCommand,
    StationCallError,
    StationDisconnected,
    StationFailed,
    StationNotConnected,
    StationTimeout,
)

__all__ = [
    "CommandAbandoned",
    "CommandError",
    "CommandNotAllowed",
    "CommandResult",
    "Disconnect",
    "GetSnapshot",
    "InvalidCommand",
    "SendCommand",
    "StationCallError",
    "StationDisconnected",
    "StationFailed",
    "StationNotConnected",
    "StationTimeout",
]


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
class GetSnapshot:
    """Ask for the station's live state (a ``StationSnapshot``)."""


@attrs.frozen
class Disconnect:
    """Close the station's connection (it may reconnect)."""

    reason: str = "closed by the CSMS"
