"""The simulator's pure parts: prompt parser, back-off, answers to CSMS commands, the charge
point model and the latency statistics."""

from __future__ import annotations

import contextlib
import datetime
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.actors.station._actions import CSMS_INITIATED
from csms.protocol import Direction, Version, validate_payload
from csms.simulator import ChargePoint, Ev, Histogram, LoadStats, ReconnectBackoff
from csms.simulator import _commands as cmd
from csms.simulator._answers import (
    ChangeHeartbeat,
    Reboot,
    RunFirmwareUpdate,
    SendMessages,
    answer,
    default_response,
    profile_watts,
)
from csms.simulator._stats import format_table

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("start 1", cmd.StartCharging(1)),
        ("stop", cmd.StopCharging()),
        ("stop 2", cmd.StopCharging(2)),
        ("status 1 faulted", cmd.SetStatus(1, "Faulted")),
        ("meter 1234.5", cmd.SetMeter(1234.5)),
        ("heartbeat", cmd.SendHeartbeat()),
        ("v2g start 11", cmd.V2GStart(11.0)),
        ("V2G stop", cmd.V2GStop()),
        ("v2g soc 40", cmd.V2GSoc(40.0)),
        ("fault 3", cmd.Fault(3)),
        ("reset", cmd.Reboot()),
        ("firmware reject", cmd.FirmwareMode(accept=False)),
        ("firmware ACCEPT", cmd.FirmwareMode(accept=True)),
        ("quit", cmd.Quit()),
        ("help", cmd.Help()),
        ("   ", None),
    ],
)
def test_parse_command(line, command):
    assert cmd.parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("launch", "unknown command 'launch'"),
        ("start", "usage: start <connector>"),
        ("start one", "connector must be a whole number, got 'one'"),
        ("start 0", "connector must be 1 or more"),
        ("status 1 Broken", "status must be one of"),
        ("meter -5", "between 0 and"),
        ("meter nan", "between 0 and"),
        ("v2g", "usage: v2g"),
        ("v2g soc 120", "between 0 and 100"),
        ("firmware maybe", "usage: firmware accept|reject"),
        ("heartbeat now", "usage: heartbeat"),
    ],
)
def test_bad_commands_say_what_is_wrong(line, message):
    with pytest.raises(cmd.CommandSyntaxError, match=message.replace("|", r"\|")):
        cmd.parse_command(line)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parser_only_ever_raises_its_syntax_error(line):
    with contextlib.suppress(cmd.CommandSyntaxError):
        cmd.parse_command(line)


def test_backoff_doubles_up_to_repeat_times_then_stays():
    """Part 4 5.3 / B: WaitMinimum, doubled per failed attempt RepeatTimes times, plus a random
    value up to RandomRange on every attempt."""
    backoff = ReconnectBackoff(wait_minimum=2, random_range=0, repeat_times=3)
    rng = random.Random(1)
    assert [backoff.delay(a, rng) for a in range(6)] == [2, 4, 8, 16, 16, 16]
    jittered = ReconnectBackoff(wait_minimum=2, random_range=5, repeat_times=3)
    for attempt in range(6):
        base = 2 * 2 ** min(attempt, 3)
        assert base <= jittered.delay(attempt, rng) <= base + 5
    with pytest.raises(ValueError, match="negative"):
        ReconnectBackoff(wait_minimum=-1)


@pytest.mark.parametrize("version", [Version.V201, Version.V21])
def test_every_csms_command_gets_a_schema_valid_answer(version):
    for action in sorted(CSMS_INITIATED[version]):
        validate_payload(version, action, Direction.RESPONSE, default_response(version, action))


def cp(**ev) -> ChargePoint:
    return ChargePoint.create("CP1", evses=2, ev=Ev(**ev))


def test_remote_start_and_stop_produce_valid_messages():
    model = cp()
    request = {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 3, "evseId": 2}
    response, effects = answer(model, Version.V201, "RequestStartTransaction", request, NOW)
    validate_payload(Version.V201, "RequestStartTransaction", Direction.RESPONSE, response)
    assert response["status"] == "Accepted"
    (send,) = effects
    assert isinstance(send, SendMessages)
    started = send.messages[1].payload
    assert started["transactionInfo"]["remoteStartId"] == 3
    assert started["seqNo"] == 0
    for message in send.messages:
        validate_payload(Version.V201, message.action, Direction.REQUEST, message.payload)
    again, _ = answer(model, Version.V201, "RequestStartTransaction", request, NOW)
    assert again["status"] == "Rejected"
    stop = {"transactionId": response["transactionId"]}
    stopped, effects = answer(model, Version.V201, "RequestStopTransaction", stop, NOW)
    assert stopped["status"] == "Accepted"
    ended = effects[0].messages[0].payload
    assert (ended["eventType"], ended["seqNo"]) == ("Ended", 1)
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"


def test_offline_events_carry_the_flag_and_consecutive_seq_nos():
    model = cp()
    out = model.start(1, NOW, offline=True)
    out += model.updates(NOW, offline=True)
    out += model.stop(1, NOW, offline=True)
    events = [m.payload for m in out if m.action == "TransactionEvent"]
    assert [e["seqNo"] for e in events] == [0, 1, 2]
    assert all(e["offline"] for e in events)
    assert all(m.transactional for m in out if m.action == "TransactionEvent")


def test_get_and_set_variables_work_on_the_device_model():
    model = cp()
    set_req = {
        "setVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": "120",
            },
            {
                "component": {"name": "ChargingStation"},
                "variable": {"name": "Model"},
                "attributeValue": "X",
            },
            {"component": {"name": "Nope"}, "variable": {"name": "X"}, "attributeValue": "1"},
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attributeValue": "soon",
            },
        ]
    }
    response, effects = answer(model, Version.V201, "SetVariables", set_req, NOW)
    validate_payload(Version.V201, "SetVariables", Direction.RESPONSE, response)
    statuses = [r["attributeStatus"] for r in response["setVariableResult"]]
    assert statuses == ["Accepted", "Rejected", "UnknownComponent", "Rejected"]
    assert effects == [ChangeHeartbeat(120.0)]
    get_req = {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nothing"}},
        ]
    }
    response, _ = answer(model, Version.V201, "GetVariables", get_req, NOW)
    validate_payload(Version.V201, "GetVariables", Direction.RESPONSE, response)
    first, second = response["getVariableResult"]
    assert (first["attributeStatus"], first["attributeValue"]) == ("Accepted", "120")
    assert second["attributeStatus"] == "UnknownVariable"


@pytest.mark.parametrize(
    "what",
    ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "TransactionEvent",
     "FirmwareStatusNotification"],
)  # fmt: skip
def test_trigger_message_sends_what_was_asked(what):
    model = cp()
    model.start(1, NOW)
    response, effects = answer(
        model, Version.V201, "TriggerMessage", {"requestedMessage": what}, NOW
    )
    assert response["status"] == "Accepted"
    (send,) = effects
    assert send.messages
    assert {m.action for m in send.messages} == {what}
    for message in send.messages:
        validate_payload(Version.V201, message.action, Direction.REQUEST, message.payload)


def test_reset_and_firmware_effects():
    model = cp()
    assert answer(model, Version.V201, "Reset", {"type": "Immediate"}, NOW) == (
        {"status": "Accepted"},
        [Reboot("RemoteReset")],
    )
    model.start(1, NOW)
    assert answer(model, Version.V201, "Reset", {"type": "OnIdle"}, NOW) == (
        {"status": "Scheduled"},
        [],
    )
    assert model.reset_pending
    request = {"requestId": 4, "firmware": {"location": "u", "retrieveDateTime": "x"}}
    assert answer(model, Version.V201, "UpdateFirmware", request, NOW)[1] == [RunFirmwareUpdate(4)]


def _profile(period: dict, unit: str = "W") -> dict:
    return {
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
        ]
    }


def test_profile_watts_reads_limits_setpoints_and_discharge_limits():
    assert profile_watts(_profile({"startPeriod": 0, "limit": 7000})) == 7000
    assert profile_watts(_profile({"startPeriod": 0, "limit": -5000})) == -5000
    assert profile_watts(_profile({"startPeriod": 0, "limit": 16}, "A")) == 16 * 230 * 3
    assert profile_watts(_profile({"startPeriod": 0, "limit": 10, "numberPhases": 1}, "A")) == 2300
    setpoint = {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -9000}
    assert profile_watts(_profile(setpoint)) == -9000
    discharge = {"startPeriod": 0, "operationMode": "ExternalSetpoint", "dischargeLimit": -4000}
    assert profile_watts(_profile(discharge)) == -4000
    assert profile_watts(_profile({"startPeriod": 0, "operationMode": "Idle"})) == 0
    assert profile_watts({"chargingSchedule": []}) is None


def test_v2g_discharge_exports_energy_and_lowers_soc_until_the_floor():
    model = cp(soc=12.0, battery_kwh=10.0, v2g=True, discharge_kw=10.0)
    model.start(1, NOW)
    model.set_profile(1, -20_000)
    evse = model.evse(1)
    assert model.target_power(evse) == -10_000  # capped by the EV
    model.advance(36)  # 100 Wh out of 10 kWh: 1 %
    assert evse.energy_export_wh == pytest.approx(100)
    assert model.ev.soc == pytest.approx(11.0)
    model.advance(3600)
    assert model.ev.soc == 0.0 or model.target_power(evse) == 0.0
    samples = {s["measurand"] for s in model.sampled_values(evse)}
    assert {"Energy.Active.Export.Register", "Power.Active.Export", "SoC"} <= samples


def test_a_plain_ev_does_not_discharge():
    model = cp(v2g=False)
    model.start(1, NOW)
    model.set_profile(0, -5000)
    model.advance(60)
    assert model.evse(1).energy_export_wh == 0
    with pytest.raises(ValueError, match="not V2G-capable"):
        model.discharge(model.evse(1), 1000)


def test_histogram_percentiles_and_exact_merge():
    a, b = Histogram(), Histogram()
    for ms in range(1, 101):
        (a if ms % 2 else b).add(ms / 1000)
    a.merge(Histogram.load(b.dump()))
    assert a.count == 100
    assert a.percentile(0.5) == pytest.approx(0.050, rel=0.03)
    assert a.percentile(0.99) == pytest.approx(0.099, rel=0.03)
    assert a.percentile(1.0) == a.maximum == 0.1
    stats = LoadStats()
    stats.call_done("Heartbeat", 0.002)
    stats.error("timeout")
    merged = LoadStats()
    merged.merge_dump(stats.dump())
    report = merged.report(seconds=2.0)
    assert report["actions"]["Heartbeat"]["count"] == 1
    assert report["errors"] == 1
    assert "Heartbeat" in format_table(report)


_ACTED_ON = [
    "RequestStartTransaction",
    "RequestStopTransaction",
    "Reset",
    "UpdateFirmware",
    "SetChargingProfile",
    "ClearChargingProfile",
    "GetVariables",
    "SetVariables",
    "TriggerMessage",
    "ChangeAvailability",
]


@pytest.mark.parametrize("version", [Version.V201, Version.V21])
@pytest.mark.parametrize("action", _ACTED_ON)
def test_commands_acted_on_answer_any_valid_request_validly(version, action):
    """Whatever schema-valid request the CSMS sends, the answer is schema-valid, and so is every
    message it makes the station send."""
    from csms.simulator._answers import _schema
    from tests.protocol.strategies import from_schema

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(_schema(version, f"{action}Request")))
    def check(request):
        model = cp(v2g=True)
        model.start(1, NOW)
        assert_answers_validly(model, version, action, request)

    check()


def assert_answers_validly(model: ChargePoint, version: Version, action: str, request: dict):
    """The answer to ``request`` and every message it makes the station send are valid."""
    response, effects = answer(model, version, action, request, NOW)
    validate_payload(version, action, Direction.RESPONSE, response)
    for effect in effects:
        for message in getattr(effect, "messages", ()):
            validate_payload(version, message.action, Direction.REQUEST, message.payload)
