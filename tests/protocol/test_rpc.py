"""The RPC state of `OcppConnection`: synchronicity, matching, timeouts, boot gating, 2.1 frames."""

from __future__ import annotations

import datetime
from typing import Any

import orjson
import pytest

from csms.protocol import (
    BootState,
    Call,
    CallError,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultError,
    CallResultErrorReceived,
    CallResultReceived,
    ErrorCode,
    InvalidCallResult,
    LocalProtocolError,
    OcppConnection,
    OutstandingCall,
    ProtocolViolation,
    Role,
    Send,
    SendReceived,
    UnmatchedResponse,
    Version,
    v21,
    v201,
)

NOW = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
BOOT = '[2, "b1", "BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}]'  # noqa: E501
RESET = v201.ResetRequest(type=v201.ResetEnum.IMMEDIATE)


def frame(*parts: Any) -> str:
    return orjson.dumps(list(parts)).decode()


def server(version: Version = Version.V201, **kwargs: Any) -> OcppConnection:
    kwargs.setdefault("boot_state", BootState.ACCEPTED)
    kwargs.setdefault("validate_outbound", True)
    return OcppConnection(Role.SERVER, version, **kwargs)


def one(conn: OcppConnection, text: str) -> Any:
    (event,) = conn.receive_text(text)
    return event


def boot_response(status: str, module: Any = v201) -> Any:
    return module.BootNotificationResponse(
        current_time=NOW, interval=60, status=module.RegistrationStatusEnum(status)
    )


# --- synchronicity and matching (Part 4 section 4.1.1) -----------------------------------------


def test_call_frame_and_matching_result() -> None:
    conn = server()
    text = conn.send(Call("c1", RESET))
    assert orjson.loads(text) == [2, "c1", "Reset", {"type": "Immediate"}]
    assert conn.outstanding == OutstandingCall("c1", "Reset")
    event = one(conn, '[3, "c1", {"status": "Scheduled"}]')
    assert event == CallResultReceived(
        "c1", "Reset", v201.ResetResponse(status=v201.ResetStatusEnum.SCHEDULED),
        {"status": "Scheduled"},
    )  # fmt: skip
    assert conn.outstanding is None


def test_only_one_outstanding_call() -> None:
    """4.1.1: no CALL until the previous one is answered or timed out."""
    conn = server()
    conn.send(Call("c1", RESET))
    with pytest.raises(LocalProtocolError, match="outstanding"):
        conn.send(Call("c2", RESET))
    assert conn.outstanding == OutstandingCall("c1", "Reset")
    one(conn, '[4, "c1", "NotSupported", "no", {}]')
    conn.send(Call("c2", RESET))
    assert conn.outstanding == OutstandingCall("c2", "Reset")


def test_call_error_answers_the_outstanding_call() -> None:
    conn = server()
    conn.send(Call("c1", RESET))
    event = one(conn, '[4, "c1", "NotSupported", "Reset not supported", {"a": 1}]')
    assert event == CallErrorReceived(
        "c1", "Reset", ErrorCode.NOT_SUPPORTED, "Reset not supported", {"a": 1}
    )
    conn.send(Call("c2", RESET))
    assert one(conn, '[4, "c2", "OddVendorCode", 5, null]') == CallErrorReceived(
        "c2", "Reset", "OddVendorCode", "", {}
    )


def test_result_with_unknown_id_is_unmatched() -> None:
    conn = server()
    conn.send(Call("c1", RESET))
    assert one(conn, '[3, "zz", {"status": "Accepted"}]') == UnmatchedResponse("zz", 3, False)
    assert one(conn, '[4, "zz", "GenericError", "", {}]') == UnmatchedResponse("zz", 4, False)
    assert conn.outstanding == OutstandingCall("c1", "Reset")


def test_timed_out_call_is_never_matched_to_a_later_call() -> None:
    """SPEC section 2: a late response is dropped, never matched to a later request."""
    conn = server()
    conn.send(Call("c1", RESET))
    assert conn.timeout_outstanding("c1") is True
    assert conn.outstanding is None
    assert conn.timeout_outstanding("c1") is False
    conn.send(Call("c2", RESET))
    assert one(conn, '[3, "c1", {"status": "Accepted"}]') == UnmatchedResponse("c1", 3, True)
    assert conn.outstanding == OutstandingCall("c2", "Reset")
    one(conn, '[3, "c2", {"status": "Accepted"}]')
    with pytest.raises(LocalProtocolError, match="timed-out"):
        conn.send(Call("c1", RESET))


def test_timeout_of_an_answered_call_is_a_no_op() -> None:
    conn = server()
    conn.send(Call("c1", RESET))
    one(conn, '[3, "c1", {"status": "Accepted"}]')
    assert conn.timeout_outstanding("c1") is False


def test_calls_may_cross() -> None:
    """4.1.1 note: a CALL from the peer may arrive while ours is outstanding."""
    conn = server()
    conn.send(Call("c1", RESET))
    assert isinstance(one(conn, '[2, "p1", "Heartbeat", {}]'), CallReceived)
    text = conn.send(CallResult("p1", v201.HeartbeatResponse(current_time=NOW)))
    assert orjson.loads(text) == [3, "p1", {"currentTime": "2025-03-01T12:00:00Z"}]
    assert conn.outstanding == OutstandingCall("c1", "Reset")


# --- invalid results (4.2.3) -----------------------------------------------------------------


def test_invalid_result_in_201_fails_the_call_without_reply() -> None:
    conn = server()
    conn.send(Call("c1", RESET))
    event = one(conn, '[3, "c1", {"status": "Maybe"}]')
    assert isinstance(event, InvalidCallResult)
    assert (event.action, event.code, event.reply) == (
        "Reset",
        ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        None,
    )
    assert "status" in event.description
    assert conn.outstanding is None


def test_invalid_result_in_21_gets_callresulterror() -> None:
    """2.1 Part 4 section 4.2.3: CALLRESULTERROR answers a CALLRESULT that contains errors."""
    conn = server(Version.V21)
    conn.send(Call("c1", v21.ResetRequest(type=v21.ResetEnum.IMMEDIATE)))
    event = one(conn, '[3, "c1", {}]')
    assert isinstance(event, InvalidCallResult)
    reply = orjson.loads(event.reply or "")
    assert reply[:3] == [5, "c1", "OccurrenceConstraintViolation"]
    assert "status" in reply[3]
    assert conn.outstanding is None


def test_malformed_result_frame_fails_the_matching_call() -> None:
    conn = server(Version.V21)
    conn.send(Call("c1", v21.ResetRequest(type=v21.ResetEnum.IMMEDIATE)))
    event = one(conn, '[3, "c1"]')
    assert isinstance(event, InvalidCallResult)
    assert orjson.loads(event.reply or "")[:3] == [5, "c1", "RpcFrameworkError"]
    conn201 = server()
    conn201.send(Call("c1", RESET))
    event = one(conn201, '[3, "c1", []]')
    assert isinstance(event, InvalidCallResult)
    assert (event.code, event.reply) == (ErrorCode.FORMAT_VIOLATION, None)


# --- replies ---------------------------------------------------------------------------------


def test_reply_checks() -> None:
    conn = server()
    with pytest.raises(LocalProtocolError, match="no received CALL"):
        conn.send(CallResult("nope", v201.HeartbeatResponse(current_time=NOW)))
    one(conn, '[2, "h1", "Heartbeat", {}]')
    with pytest.raises(LocalProtocolError, match="HeartbeatResponse"):
        conn.send(CallResult("h1", v201.ResetResponse(status=v201.ResetStatusEnum.ACCEPTED)))
    assert conn.awaiting_reply == frozenset({"h1"})
    conn.send(CallResult("h1", v201.HeartbeatResponse(current_time=NOW)))
    with pytest.raises(LocalProtocolError):
        conn.send(CallError("h1", ErrorCode.INTERNAL_ERROR))


def test_outbound_payloads_are_validated_and_omit_none() -> None:
    """SPEC section 2: what the CSMS sends is schema-valid; optional fields are never null."""
    conn = server()
    one(conn, BOOT.replace("b1", "x1"))
    bad = v201.BootNotificationResponse(current_time=NOW, interval=60, status="Sleepy")
    with pytest.raises(LocalProtocolError) as info:
        conn.send(CallResult("x1", bad))
    assert info.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert "status" in info.value.description
    naive = v201.BootNotificationResponse(
        current_time=datetime.datetime(2025, 1, 1),
        interval=1,
        status=v201.RegistrationStatusEnum.ACCEPTED,
    )
    with pytest.raises(LocalProtocolError, match="offset"):
        conn.send(CallResult("x1", naive))
    text = conn.send(CallResult("x1", boot_response("Accepted")))
    assert "null" not in text
    assert orjson.loads(text)[2] == {
        "currentTime": "2025-03-01T12:00:00Z", "interval": 60, "status": "Accepted"
    }  # fmt: skip


def test_message_id_rules_on_send() -> None:
    conn = server()
    with pytest.raises(LocalProtocolError, match="36"):
        conn.send(Call("x" * 37, RESET))
    with pytest.raises(LocalProtocolError, match=r"not an ocpp2\.0\.1 request"):
        conn.send(Call("c1", v21.ResetRequest(type=v21.ResetEnum.IMMEDIATE)))
    assert conn.outstanding is None


def test_unserializable_payload_is_a_local_error() -> None:
    conn = server(validate_outbound=False)
    huge = v201.GetBaseReportRequest(
        request_id=2**70, report_base=v201.ReportBaseEnum.FULL_INVENTORY
    )
    with pytest.raises(LocalProtocolError, match="64-bit"):
        conn.send(Call("c1", huge))
    assert conn.outstanding is None


def test_21_only_commands_are_refused_in_201() -> None:
    conn = server()
    with pytest.raises(LocalProtocolError, match=r"2\.1"):
        conn.send(CallResultError("c1", ErrorCode.FORMAT_VIOLATION))


# --- SEND and CALLRESULTERROR (2.1) ----------------------------------------------------------

STREAM = '[6, "s1", "NotifyPeriodicEventStream", {"id": 1, "pending": 0, "basetime": "2024-08-27T12:30:40Z", "data": [{"t": 0, "v": "230.4"}]}]'  # noqa: E501


def test_send_received_and_never_answered() -> None:
    """2.1 section 4.2.4: the receiver SHALL NOT respond to a SEND."""
    conn = server(Version.V21)
    event = one(conn, STREAM)
    assert isinstance(event, SendReceived)
    assert event.payload.data[0] == v21.StreamDataElement(t=0.0, v="230.4")
    invalid = one(conn, STREAM.replace('"pending": 0', '"pending": -1'))
    assert isinstance(invalid, ProtocolViolation)
    assert invalid.reply is None
    unknown = one(conn, '[6, "s2", "Heartbeat", {}]')
    assert (unknown.code, unknown.reply) == (ErrorCode.NOT_IMPLEMENTED, None)


def test_send_is_allowed_while_a_call_is_outstanding() -> None:
    """2.1 section 4.1.1 note: SEND does not wait for the outstanding CALL."""
    client = OcppConnection(Role.CLIENT, Version.V21, validate_outbound=True)
    client.send(Call("c1", v21.HeartbeatRequest()))
    message = v21.NotifyPeriodicEventStream(
        id=1, pending=0, basetime=NOW, data=(v21.StreamDataElement(t=1.5, v="1"),)
    )
    assert orjson.loads(client.send(Send("s1", message)))[:3] == [
        6,
        "s1",
        "NotifyPeriodicEventStream",
    ]
    assert client.outstanding == OutstandingCall("c1", "Heartbeat")


def test_callresulterror_is_reported() -> None:
    conn = server(Version.V21)
    event = one(conn, '[5, "r1", "FormatViolation", "bad result", {}]')
    assert event == CallResultErrorReceived("r1", ErrorCode.FORMAT_VIOLATION, "bad result", {})
    text = conn.send(CallResultError("r2", ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "x"))
    assert orjson.loads(text) == [5, "r2", "PropertyConstraintViolation", "x", {}]


def test_unknown_message_type_is_ignored_in_21() -> None:
    """2.1 section 4.4: a message type not in the list SHALL be ignored."""
    event = one(server(Version.V21), '[7, "u1", "Whatever", {}]')
    assert isinstance(event, ProtocolViolation)
    assert (event.code, event.reply) == (ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, None)


# --- boot gating (B01, B02, B03) --------------------------------------------------------------


def test_b01_fr_10_security_error_until_accepted() -> None:
    """B01.FR.10 / B02.FR.09: calls other than BootNotification before acceptance."""
    conn = OcppConnection(Role.SERVER, Version.V201)
    assert one(conn, '[2, "h0", "Heartbeat", {}]').code is ErrorCode.SECURITY_ERROR
    assert isinstance(one(conn, BOOT), CallReceived)
    conn.send(CallResult("b1", boot_response("Pending")))
    assert conn.boot_state is BootState.PENDING
    assert one(conn, '[2, "h1", "Heartbeat", {}]').code is ErrorCode.SECURITY_ERROR
    assert isinstance(one(conn, BOOT.replace("b1", "b2")), CallReceived)
    conn.send(CallResult("b2", boot_response("Accepted")))
    assert conn.boot_state is BootState.ACCEPTED
    assert isinstance(one(conn, '[2, "h2", "Heartbeat", {}]'), CallReceived)


def test_b02_fr_01_csms_may_configure_a_pending_station() -> None:
    """B02.FR.01: in Pending the CSMS may send requests and the station answers them."""
    conn = OcppConnection(Role.SERVER, Version.V201, boot_state=BootState.PENDING)
    request = v201.GetVariablesRequest(
        get_variable_data=(
            v201.GetVariableData(
                component=v201.Component(name="OCPPCommCtrlr"),
                variable=v201.Variable(name="HeartbeatInterval"),
            ),
        )
    )
    conn.send(Call("g1", request))
    result = one(
        conn,
        frame(
            3,
            "g1",
            {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                        "attributeValue": "60",
                    }
                ]
            },
        ),
    )
    assert isinstance(result, CallResultReceived)
    assert result.payload.get_variable_result[0].attribute_value == "60"


@pytest.mark.parametrize(
    ("trigger", "allowed"),
    [
        (
            v201.TriggerMessageRequest(requested_message=v201.MessageTriggerEnum.HEARTBEAT),
            "Heartbeat",
        ),
        (
            v201.GetBaseReportRequest(request_id=1, report_base=v201.ReportBaseEnum.FULL_INVENTORY),
            "NotifyReport",
        ),
    ],
)
def test_b02_fr_02_messages_the_csms_asked_for_are_allowed(trigger: Any, allowed: str) -> None:
    """B02.FR.02: while Pending the station may send what TriggerMessage/GetBaseReport asked."""
    conn = OcppConnection(Role.SERVER, Version.V201, boot_state=BootState.PENDING)
    frames = {
        "Heartbeat": '[2, "t1", "Heartbeat", {}]',
        "NotifyReport": '[2, "t1", "NotifyReport", {"requestId": 1, "generatedAt": "2025-01-01T00:00:00Z", "seqNo": 0}]',  # noqa: E501
    }
    assert one(conn, frames[allowed]).code is ErrorCode.SECURITY_ERROR
    conn.send(Call("tm", trigger))
    assert isinstance(one(conn, frames[allowed].replace("t1", "t2")), CallReceived)
    assert one(conn, '[2, "s1", "StatusNotification", {}]').code is ErrorCode.SECURITY_ERROR


def test_b03_rejected_station() -> None:
    """B03.FR.07: SecurityError for anything but BootNotification; B03.FR.03: the CSMS SHALL
    NOT initiate messages."""
    conn = OcppConnection(Role.SERVER, Version.V201)
    one(conn, BOOT)
    conn.send(CallResult("b1", boot_response("Rejected")))
    assert conn.boot_state is BootState.REJECTED
    assert one(conn, '[2, "h1", "Heartbeat", {}]').code is ErrorCode.SECURITY_ERROR
    with pytest.raises(LocalProtocolError, match=r"B03\.FR\.03") as info:
        conn.send(Call("c1", RESET))
    assert info.value.code is ErrorCode.SECURITY_ERROR
    assert isinstance(one(conn, BOOT.replace("b1", "b2")), CallReceived)


def test_b03_fr_08_client_refuses_csms_calls_after_rejection() -> None:
    client = OcppConnection(Role.CLIENT, Version.V201, validate_outbound=True)
    assert isinstance(one(client, '[2, "r0", "Reset", {"type": "Immediate"}]'), CallReceived)
    client.send(
        Call(
            "b1",
            v201.BootNotificationRequest(
                reason=v201.BootReasonEnum.POWER_UP,
                charging_station=v201.ChargingStation(model="M", vendor_name="V"),
            ),
        )
    )
    one(
        client,
        '[3, "b1", {"currentTime": "2025-01-01T00:00:00Z", "interval": 10, "status": "Rejected"}]',
    )
    assert client.boot_state is BootState.REJECTED
    assert one(client, '[2, "r1", "Reset", {"type": "Immediate"}]').code is ErrorCode.SECURITY_ERROR


def test_reconnecting_accepted_station_is_not_gated() -> None:
    conn = OcppConnection(Role.SERVER, Version.V201, boot_state=BootState.ACCEPTED)
    assert isinstance(one(conn, '[2, "h1", "Heartbeat", {}]'), CallReceived)


def test_lazily_structured_actions_are_validated_on_receipt_and_structured_on_first_read() -> None:
    event = {
        "eventType": "Started",
        "timestamp": "2026-02-01T08:00:00+01:00",
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1"},
        "idToken": {"idToken": "TAG", "type": "ISO14443"},
        "meterValue": [{"timestamp": "2026-02-01T08:00:00Z", "sampledValue": [{"value": 1}]}],
    }
    eager, lazy = server(), server(structure_lazily={"TransactionEvent"})
    text = frame(2, "t1", "TransactionEvent", event)
    expected, received = one(eager, text), one(lazy, text)
    assert isinstance(received, CallReceived)
    assert received == expected
    assert received._structure is not None  # not structured yet
    assert received.raw == event
    payload = received.payload
    assert received._structure is None
    assert payload == expected.payload
    assert isinstance(payload, v201.TransactionEventRequest)
    assert received.payload is payload  # once
    assert lazy.awaiting_reply == {"t1"}
    lazy.send(CallResult("t1", v201.TransactionEventResponse()))
    assert lazy.awaiting_reply == frozenset()
    # other actions of the same connection are structured on receipt as before
    heartbeat = one(lazy, '[2, "h1", "Heartbeat", {}]')
    assert heartbeat._structure is None
    assert isinstance(heartbeat.payload, v201.HeartbeatRequest)


@pytest.mark.parametrize(
    "change",
    [
        {"seqNo": "1"},
        {"seqNo": None},
        {"timestamp": "2026-02-30T08:00:00Z"},
        {"eventType": "Begun"},
        {"extra": 1},
        {"meterValue": []},
    ],
)
def test_lazily_structured_actions_are_refused_as_the_others(change: dict[str, Any]) -> None:
    event = {
        "eventType": "Updated",
        "timestamp": "2026-02-01T08:00:00Z",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-1"},
    }
    event = {k: v for k, v in {**event, **change}.items() if v is not None}
    text = frame(2, "t2", "TransactionEvent", event)
    for version in Version:
        expected = one(server(version), text)
        lazy = server(version, structure_lazily={"TransactionEvent"})
        refused = one(lazy, text)
        assert isinstance(refused, ProtocolViolation)
        assert refused == expected
        assert lazy.awaiting_reply == frozenset()
