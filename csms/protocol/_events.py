"""What `OcppConnection` sends (commands) and what it reports (events).

Commands go into `OcppConnection.send`, which returns the frame text to write:
`Call`, `CallResult`, `CallError`, `CallResultError` (2.1), `Send` (2.1). Payloads are instances of
the generated message classes; the action is derived from the payload's class.

Events come out of `OcppConnection.receive_text`. An event with a `reply` (always a
`ProtocolViolation`, including its subclass `InvalidCallResult`) carries the frame to write back,
or None when OCPP-J says to drop the message silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._errors import ErrorCode

__all__ = [
    "Call",
    "CallError",
    "CallErrorReceived",
    "CallReceived",
    "CallResult",
    "CallResultError",
    "CallResultErrorReceived",
    "CallResultReceived",
    "Event",
    "InvalidCallResult",
    "ProtocolViolation",
    "Send",
    "SendReceived",
    "UnmatchedResponse",
]


# --- commands --------------------------------------------------------------------------------


@attrs.frozen
class Call:
    """Send a request (a generated `...Request` instance); at most one may be outstanding."""

    message_id: str
    payload: Any


@attrs.frozen
class CallResult:
    """Answer a received CALL with its `...Response` instance."""

    message_id: str
    payload: Any


@attrs.frozen
class CallError:
    """Answer a received CALL with an error (e.g. InternalError when the handler failed)."""

    message_id: str
    code: ErrorCode
    description: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class CallResultError:
    """OCPP 2.1: tell the peer a CALLRESULT it sent could not be processed."""

    message_id: str
    code: ErrorCode
    description: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Send:
    """OCPP 2.1: an unconfirmed message (a generated SEND class); allowed at any time."""

    message_id: str
    payload: Any


Command = Call | CallResult | CallError | CallResultError | Send


# --- events ----------------------------------------------------------------------------------

#: Builds the generated message object from its schema-valid wire JSON.
StructureHook = Callable[[dict[str, Any]], Any]


@attrs.frozen
class CallReceived:
    """A valid CALL; answer it with `CallResult` or `CallError` using the same message id.

    `raw` is the schema-valid wire JSON. `payload` is the same as the generated request class,
    structured when the CALL is received, or, for an action the connection structures lazily
    (`OcppConnection(structure_lazily=...)`), on first access (once; a payload the converter
    cannot structure then raises there, where it was an InternalError CALLERROR before). Events
    are equal when their message id, action and wire JSON are.
    """

    message_id: str
    action: str
    _payload: Any = attrs.field(alias="payload", eq=False, repr=False)
    raw: dict[str, Any]
    _structure: Callable[[dict[str, Any]], Any] | None = attrs.field(
        default=None, kw_only=True, eq=False, repr=False
    )

    @classmethod
    def lazy(
        cls, message_id: str, action: str, raw: dict[str, Any], structure: StructureHook
    ) -> CallReceived:
        """A CALL whose `payload` is `structure(raw)`, computed on first access."""
        return cls(message_id, action, None, raw, structure=structure)

    @property
    def payload(self) -> Any:
        structure = self._structure
        if structure is not None:
            object.__setattr__(self, "_payload", structure(self.raw))
            object.__setattr__(self, "_structure", None)
        return self._payload


@attrs.frozen
class CallResultReceived:
    """The valid CALLRESULT of the outstanding call."""

    message_id: str
    action: str
    payload: Any
    raw: dict[str, Any]


@attrs.frozen
class CallErrorReceived:
    """The CALLERROR answering the outstanding call; `code` is a str if not a known code."""

    message_id: str
    action: str
    code: ErrorCode | str
    description: str
    details: dict[str, Any]


@attrs.frozen
class CallResultErrorReceived:
    """OCPP 2.1: the peer could not process a CALLRESULT we sent with this message id."""

    message_id: str
    code: ErrorCode | str
    description: str
    details: dict[str, Any]


@attrs.frozen
class SendReceived:
    """OCPP 2.1: a valid SEND message; it must not be answered."""

    message_id: str
    action: str
    payload: Any
    raw: dict[str, Any]


@attrs.frozen
class UnmatchedResponse:
    """A CALLRESULT or CALLERROR whose id is not the outstanding call's.

    `timed_out` tells whether the id belongs to a call this connection gave up on (a late
    response); either way it is dropped and never matched to a later call.
    """

    message_id: str
    message_type: int
    timed_out: bool


@attrs.frozen
class ProtocolViolation:
    """The peer sent something invalid. Write `reply` back if it is not None.

    `reply` is None when OCPP-J forbids answering: an invalid CALLERROR, CALLRESULTERROR or
    SEND, an unknown message type in 2.1 (Part 4 section 4.4), an invalid CALLRESULT in 2.0.1
    (which has no CALLRESULTERROR).
    """

    message_id: str
    code: ErrorCode
    description: str
    reply: str | None


@attrs.frozen
class InvalidCallResult(ProtocolViolation):
    """The outstanding call was answered with an invalid CALLRESULT; the call has failed.

    In 2.1 `reply` is the CALLRESULTERROR to send back.
    """

    action: str


Event = (
    CallReceived
    | CallResultReceived
    | CallErrorReceived
    | CallResultErrorReceived
    | SendReceived
    | UnmatchedResponse
    | ProtocolViolation
)
