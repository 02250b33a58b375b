"""Error codes and the exception hierarchy of the OCPP-J layer.

Every exception carries the CALLERROR error code (OCPP-J Part 4 section 4.3) that describes it::

    OcppError(Exception)                     .code, .description, .details
    ├── RemoteProtocolError(ValueError)      the peer sent a frame that breaks OCPP-J; also carries
    │                                        .message_id ("-1" when unreadable) and
    │                                        .message_type_id (None when unreadable)
    ├── PayloadError(ValueError)             a payload does not match its JSON schema; .path names
    │                                        the offending field ("chargingStation.model")
    └── LocalProtocolError(RuntimeError)     this side asked for something OCPP-J forbids (a second
                                             outstanding CALL, a reply to an unknown call, ...)

`OcppConnection` never lets `RemoteProtocolError` or `PayloadError` escape `receive_text`: it turns
them into events carrying the reply frame. `LocalProtocolError` is raised by `OcppConnection.send`
and leaves the connection state untouched.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["ErrorCode", "LocalProtocolError", "OcppError", "PayloadError", "RemoteProtocolError"]

MAX_DESCRIPTION = 255
"""ErrorDescription is string[255] (Part 4 table 7)."""


class ErrorCode(enum.StrEnum):
    """RPC framework error codes (Part 4 section 4.3, identical in 2.0.1 and 2.1)."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


def truncate(text: str, limit: int = MAX_DESCRIPTION) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OcppError(Exception):
    """Base of every error raised by `csms.protocol`."""

    def __init__(
        self, code: ErrorCode, description: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = truncate(description)
        self.details: dict[str, Any] = details if details is not None else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}, {self.description!r})"


class RemoteProtocolError(OcppError, ValueError):
    """The peer sent a frame that breaks OCPP-J (bad JSON, bad shape, unknown action, ...)."""

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        *,
        message_id: str = "-1",
        message_type_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, description, details)
        self.message_id = message_id
        self.message_type_id = message_type_id


class PayloadError(OcppError, ValueError):
    """A payload does not match the JSON schema of its action; `.path` names the field."""

    def __init__(self, code: ErrorCode, description: str, *, path: str, rule: str) -> None:
        super().__init__(code, description, {"field": truncate(path), "rule": rule})
        self.path = path
        self.rule = rule


class LocalProtocolError(OcppError, RuntimeError):
    """This side tried to send something OCPP-J forbids; nothing was sent."""

    def __init__(self, description: str, code: ErrorCode = ErrorCode.GENERIC_ERROR) -> None:
        super().__init__(code, description)
