"""OCPP-J frames: the JSON arrays on the wire (Part 4 section 4.2), parsed and serialized.

Payloads stay plain JSON here (dicts); typing them is the converter's job. `parse_frame` checks
only the RPC wrapper and raises `RemoteProtocolError` with the code Part 4 gives:

- not JSON, not an array, no integer message type, an unreadable message id (not a string, or
  longer than 36 characters), the wrong number of elements, or a non-string action:
  RpcFrameworkError ("Content of the call is not a valid RPC Request"), message id "-1" when it
  cannot be read;
- a message type number the version does not define: MessageTypeNotSupported (section 4.4; what
  to do with it differs per version and is `OcppConnection`'s business);
- a CALL, CALLRESULT or SEND payload that is not a JSON object: FormatViolation ("Payload for
  Action is syntactically incorrect").

CALLERROR and CALLRESULTERROR are read leniently (a non-string description becomes "", a
non-object errorDetails becomes {}) so that a sloppy peer's error still resolves the call.
"""

from __future__ import annotations

import enum
from random import getrandbits
from typing import Any, Final

import attrs
import orjson

from ._catalog import Version
from ._errors import ErrorCode, RemoteProtocolError, truncate

__all__ = [
    "CallErrorFrame",
    "CallFrame",
    "CallResultErrorFrame",
    "CallResultFrame",
    "Frame",
    "MessageType",
    "SendFrame",
    "new_message_id",
    "parse_frame",
    "random_uuid",
    "serialize_frame",
]

MAX_MESSAGE_ID = 36


class MessageType(enum.IntEnum):
    """Message type numbers (Part 4 table 3; 5 and 6 are new in 2.1)."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4
    CALL_RESULT_ERROR = 5
    SEND = 6


SUPPORTED_TYPES: Final = {
    Version.V201: frozenset({2, 3, 4}),
    Version.V21: frozenset({2, 3, 4, 5, 6}),
}
_LENGTHS: Final = {2: 4, 3: 3, 4: 5, 5: 5, 6: 4}


@attrs.frozen
class CallFrame:
    message_id: str
    action: str
    payload: dict[str, Any]


@attrs.frozen
class CallResultFrame:
    message_id: str
    payload: dict[str, Any]


@attrs.frozen
class CallErrorFrame:
    message_id: str
    error_code: str
    description: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class CallResultErrorFrame:
    """OCPP 2.1: the sender of a CALLRESULT is told its result could not be processed."""

    message_id: str
    error_code: str
    description: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class SendFrame:
    """OCPP 2.1: an unconfirmed message; it is never answered."""

    message_id: str
    action: str
    payload: dict[str, Any]


Frame = CallFrame | CallResultFrame | CallErrorFrame | CallResultErrorFrame | SendFrame


def random_uuid() -> str:
    """A random (version 4) UUID in its 36-character text form.

    Message and command ids must be unique, not unguessable, so the bits come from the process's
    pseudo-random generator (seeded by the operating system, reseeded in a forked child) rather
    than from a system call per id as ``uuid.uuid4`` makes: under load that call, which lets go
    of the GIL, cost more than the rest of building a frame.
    """
    n = getrandbits(128) & ~(0xC000 << 48) & ~(0xF000 << 64) | (0x8000 << 48) | (4 << 76)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_message_id() -> str:
    """A fresh message id (a UUID, exactly 36 characters)."""
    return random_uuid()


def readable_message_id(value: Any) -> str | None:
    if isinstance(value, str) and len(value) <= MAX_MESSAGE_ID:
        return value
    return None


def parse_frame(data: str | bytes, version: Version) -> Frame:
    """Parse one WebSocket text message into a frame; `RemoteProtocolError` if it is not one."""
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RemoteProtocolError(ErrorCode.RPC_FRAMEWORK_ERROR, "message is not valid JSON")
    if not isinstance(message, list) or not message:
        raise RemoteProtocolError(
            ErrorCode.RPC_FRAMEWORK_ERROR, "message is not a non-empty JSON array"
        )
    type_id = message[0]
    message_id = readable_message_id(message[1]) if len(message) > 1 else None
    if type(type_id) is not int:
        raise RemoteProtocolError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "MessageTypeId is not an integer",
            message_id=message_id or "-1",
        )
    if type_id not in SUPPORTED_TYPES[version]:
        raise RemoteProtocolError(
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"MessageTypeId {type_id} is not supported by {version.value}",
            message_id=message_id or "-1",
            message_type_id=type_id,
        )
    if message_id is None:
        raise RemoteProtocolError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "MessageId is missing, not a string or longer than 36 characters",
            message_type_id=type_id,
        )
    if len(message) != _LENGTHS[type_id]:
        raise RemoteProtocolError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"{MessageType(type_id).name} must have {_LENGTHS[type_id]} elements, "
            f"got {len(message)}",
            message_id=message_id,
            message_type_id=type_id,
        )
    if type_id == 2 or type_id == 6:
        action = message[2]
        if not isinstance(action, str) or not action:
            raise RemoteProtocolError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                "Action is not a non-empty string",
                message_id=message_id,
                message_type_id=type_id,
            )
        payload = _payload(message[3], message_id, type_id, action)
        if type_id == 2:
            return CallFrame(message_id, action, payload)
        return SendFrame(message_id, action, payload)
    if type_id == 3:
        return CallResultFrame(message_id, _payload(message[2], message_id, type_id, "result"))
    code = message[2]
    if not isinstance(code, str):
        raise RemoteProtocolError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "ErrorCode is not a string",
            message_id=message_id,
            message_type_id=type_id,
        )
    description = message[3] if isinstance(message[3], str) else ""
    details = message[4] if isinstance(message[4], dict) else {}
    if type_id == 4:
        return CallErrorFrame(message_id, code, description, details)
    return CallResultErrorFrame(message_id, code, description, details)


def _payload(value: Any, message_id: str, type_id: int, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise RemoteProtocolError(
        ErrorCode.FORMAT_VIOLATION,
        f"payload of {what} is not a JSON object",
        message_id=message_id,
        message_type_id=type_id,
    )


def serialize_frame(frame: Frame) -> str:
    """The JSON text of a frame. Error descriptions are cut to 255 characters (Part 4 table 7).

    Raises TypeError for what JSON cannot carry here (e.g. an integer beyond 64 bits).
    """
    body: list[Any]
    if isinstance(frame, CallFrame):
        body = [2, frame.message_id, frame.action, frame.payload]
    elif isinstance(frame, CallResultFrame):
        body = [3, frame.message_id, frame.payload]
    elif isinstance(frame, SendFrame):
        body = [6, frame.message_id, frame.action, frame.payload]
    else:
        type_id = 4 if isinstance(frame, CallErrorFrame) else 5
        description = truncate(frame.description)
        body = [type_id, frame.message_id, frame.error_code, description, frame.details]
    return orjson.dumps(body).decode()
