"""The public names of csms.protocol and the exception hierarchy are pinned."""

from __future__ import annotations

import csms.protocol as protocol
from csms.protocol import (
    ErrorCode,
    LocalProtocolError,
    OcppError,
    PayloadError,
    RemoteProtocolError,
    v21,
    v201,
)

PUBLIC = [
    "BootState", "Call", "CallError", "CallErrorFrame", "CallErrorReceived", "CallFrame",
    "CallReceived", "CallResult", "CallResultError", "CallResultErrorFrame",
    "CallResultErrorReceived", "CallResultFrame", "CallResultReceived", "Direction", "ErrorCode",
    "Event", "Frame", "InvalidCallResult", "LocalProtocolError", "MessageType", "OcppConnection",
    "OcppError", "OutstandingCall", "PayloadError", "ProtocolViolation", "RemoteProtocolError",
    "Role", "Send", "SendFrame", "SendReceived", "UnmatchedResponse", "Version", "converter",
    "new_message_id", "parse_datetime", "parse_frame", "random_uuid", "serialize_frame",
    "structure_payload", "unstructure_payload", "v21", "v201", "validate_payload", "warm_up",
]  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert sorted(protocol.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(protocol, name) is not None


def test_exception_hierarchy() -> None:
    assert issubclass(RemoteProtocolError, OcppError)
    assert issubclass(RemoteProtocolError, ValueError)
    assert issubclass(PayloadError, OcppError)
    assert issubclass(PayloadError, ValueError)
    assert issubclass(LocalProtocolError, OcppError)
    assert issubclass(LocalProtocolError, RuntimeError)
    error = RemoteProtocolError(ErrorCode.FORMAT_VIOLATION, "x" * 300, message_id="m")
    assert (error.code, error.message_id, error.details, len(error.description)) == (
        ErrorCode.FORMAT_VIOLATION, "m", {}, 255
    )  # fmt: skip


def test_error_codes_are_those_of_part_4_table_8() -> None:
    assert {code.value for code in ErrorCode} == {
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
        "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
        "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
        "TypeConstraintViolation",
    }  # fmt: skip


def test_version_modules_expose_registries() -> None:
    assert v201.ACTIONS["BootNotification"] == (
        v201.BootNotificationRequest, v201.BootNotificationResponse
    )  # fmt: skip
    assert {"NotifyPeriodicEventStream": v21.NotifyPeriodicEventStream} == v21.SEND_ACTIONS
    assert v201.SEND_ACTIONS == {}
    assert set(v201.__all__) <= set(dir(v201))
