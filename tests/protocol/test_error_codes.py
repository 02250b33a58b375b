"""Every CALLERROR code of Part 4 section 4.3 is produced by a crafted frame, and payload errors
name the offending field in the description."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from csms.protocol import (
    BootState,
    CallError,
    CallReceived,
    ErrorCode,
    OcppConnection,
    ProtocolViolation,
    Role,
    Version,
)

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M1", "vendorName": "VendorX"}}


def accepted(version: Version = Version.V201, **kwargs: Any) -> OcppConnection:
    return OcppConnection(Role.SERVER, version, boot_state=BootState.ACCEPTED, **kwargs)


def reply_of(conn: OcppConnection, frame: Any) -> list[Any]:
    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
    (event,) = conn.receive_text(text)
    assert isinstance(event, ProtocolViolation), event
    assert event.reply is not None
    reply = orjson.loads(event.reply)
    assert reply[0] == 4
    assert reply[2] == event.code.value
    assert reply[3] == event.description
    assert reply[4] == {}
    return list(reply)


def boot_with(**changes: Any) -> dict[str, Any]:
    station = {**BOOT["chargingStation"], **changes}
    return {**BOOT, "chargingStation": {k: v for k, v in station.items() if v is not None}}


# (frame, expected code, text the description must contain)
PAYLOAD_CASES = [
    ([2, "a1", "Heartbeat", []], "FormatViolation", "not a JSON object"),
    ([2, "a2", "Heartbeat", "x"], "FormatViolation", "not a JSON object"),
    (
        [2, "a3", "StatusNotification", {"timestamp": "2024-02-30T10:00:00Z",
         "connectorStatus": "Available", "evseId": 1, "connectorId": 1}],
        "FormatViolation",
        "timestamp",
    ),
    ([2, "a4", "BootNotification", boot_with(model=12)], "TypeConstraintViolation",
     "chargingStation.model"),
    ([2, "a5", "BootNotification", boot_with(vendorName=None)],
     "OccurrenceConstraintViolation", "chargingStation.vendorName"),
    ([2, "a6", "MeterValues", {"evseId": 1, "meterValue": []}],
     "OccurrenceConstraintViolation", "meterValue"),
    ([2, "a7", "BootNotification", {**BOOT, "reason": "Sleepy"}],
     "PropertyConstraintViolation", "reason"),
    ([2, "a8", "BootNotification", boot_with(model="M" * 21)], "PropertyConstraintViolation",
     "chargingStation.model"),
    (
        [2, "a9", "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": {
            "requestedEnergyTransfer": "DC",
            "dcChargingParameters": {"evMaxCurrent": 1, "evMaxVoltage": 1, "stateOfCharge": 101},
        }}],
        "PropertyConstraintViolation",
        "chargingNeeds.dcChargingParameters.stateOfCharge",
    ),
    ([2, "a10", "BootNotification", boot_with(colour="red")], "ProtocolError",
     "chargingStation.colour"),
    (
        [2, "a11", "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": "2024-01-01T00:00:00Z",
         "sampledValue": [{"value": 1}, {"value": "high"}]}]}],
        "TypeConstraintViolation",
        "meterValue[0].sampledValue[1].value",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "code", "field"), PAYLOAD_CASES)
def test_payload_violations_name_the_field(frame: list[Any], code: str, field: str) -> None:
    """Part 4 section 4.1.7 and 4.2.3: an invalid CALL is answered with a CALLERROR."""
    reply = reply_of(accepted(), frame)
    assert reply[1] == frame[1]
    assert reply[2] == code
    assert field in reply[3]


def test_type_constraint_has_the_tables_example() -> None:
    """Table 8: TypeConstraintViolation, e.g. "somestring": 12."""
    reply = reply_of(
        accepted(), [2, "t", "Authorize", {"idToken": {"idToken": 12, "type": "Central"}}]
    )
    assert reply[2] == "TypeConstraintViolation"
    assert reply[3] == "Authorize request: idToken.idToken: must be of type string, got integer"


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("this is not json", "-1"),
        ("{}", "-1"),
        ("[]", "-1"),
        ('["2", "m", "Heartbeat", {}]', "m"),
        ('[2, 17, "Heartbeat", {}]', "-1"),
        (f'[2, "{"x" * 37}", "Heartbeat", {{}}]', "-1"),
        ('[2, "m3", "Heartbeat"]', "m3"),
        ('[2, "m4", "Heartbeat", {}, {}]', "m4"),
        ('[2, "m5", 7, {}]', "m5"),
        ('[2, "m6", "", {}]', "m6"),
        ('[true, "m7", "Heartbeat", {}]', "m7"),
    ],
)
def test_rpc_framework_error(text: str, message_id: str) -> None:
    """Table 8: RpcFrameworkError; section 4.2.3: "-1" when the MessageId cannot be read."""
    reply = reply_of(accepted(), text)
    assert reply[1:3] == [message_id, "RpcFrameworkError"]


def test_duplicate_message_id_in_flight_is_rpc_framework_error() -> None:
    conn = accepted()
    (first,) = conn.receive_text('[2, "same", "Heartbeat", {}]')
    assert isinstance(first, CallReceived)
    assert reply_of(conn, '[2, "same", "Heartbeat", {}]')[1:3] == ["same", "RpcFrameworkError"]


def test_not_implemented_for_unknown_action() -> None:
    """Table 8: NotImplemented, the requested Action is not known by the receiver."""
    reply = reply_of(accepted(), [2, "n1", "FlyToTheMoon", {}])
    assert reply[1:3] == ["n1", "NotImplemented"]
    assert "FlyToTheMoon" in reply[3]


def test_send_only_action_in_a_call_is_not_implemented() -> None:
    reply = reply_of(accepted(Version.V21), [2, "n2", "NotifyPeriodicEventStream", {}])
    assert reply[2] == "NotImplemented"


def test_not_supported_for_known_but_unhandled_action() -> None:
    """Table 8: NotSupported, the Action is recognized but not supported by the receiver."""
    conn = accepted(supported_actions={"BootNotification", "Heartbeat"})
    reply = reply_of(conn, [2, "s1", "Authorize", {"idToken": {"idToken": "x", "type": "Central"}}])
    assert reply[1:3] == ["s1", "NotSupported"]


def test_message_type_not_supported_in_201() -> None:
    """Part 4 (2.0.1) section 4.4: unknown message type -> CALLERROR MessageTypeNotSupported."""
    conn = accepted()
    assert reply_of(conn, '[9, "u1", "x"]')[1:3] == ["u1", "MessageTypeNotSupported"]
    assert reply_of(conn, '[6, "u2", "Heartbeat", {}]')[1:3] == ["u2", "MessageTypeNotSupported"]
    assert reply_of(conn, '[5, "u3", "GenericError", "", {}]')[2] == "MessageTypeNotSupported"


def test_security_error_before_accepted_boot() -> None:
    """B01.FR.10: a CALL other than BootNotification before acceptance -> SecurityError."""
    conn = OcppConnection(Role.SERVER, Version.V201)
    assert reply_of(conn, '[2, "h1", "Heartbeat", {}]')[1:3] == ["h1", "SecurityError"]


@pytest.mark.parametrize("code", [ErrorCode.INTERNAL_ERROR, ErrorCode.GENERIC_ERROR])
def test_application_errors_are_sent_as_callerror(code: ErrorCode) -> None:
    """InternalError and GenericError come from the application (a failing or refusing handler):
    the crafted CALL is valid, the handler answers with CallError."""
    conn = accepted()
    (event,) = conn.receive_text('[2, "e1", "Heartbeat", {}]')
    assert isinstance(event, CallReceived)
    text = conn.send(CallError("e1", code, "handler failed: " + "x" * 300))
    reply = orjson.loads(text)
    assert reply[:3] == [4, "e1", code.value]
    assert len(reply[3]) == 255
    assert conn.awaiting_reply == frozenset()


def test_every_error_code_is_covered() -> None:
    produced = {code for _, code, _ in PAYLOAD_CASES} | {
        "RpcFrameworkError", "NotImplemented", "NotSupported", "MessageTypeNotSupported",
        "SecurityError", "InternalError", "GenericError",
    }  # fmt: skip
    assert produced == {code.value for code in ErrorCode}
