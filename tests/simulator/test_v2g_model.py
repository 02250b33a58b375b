"""The simulated V2X EV's pure parts: its battery, the needs it announces, the transfer it
chooses, and how it reads profiles and dynamic updates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.protocol import Direction, Version, validate_payload
from csms.simulator import ChargePoint, Ev, _v2x
from csms.simulator._ev import (
    BPT_MODES,
    ActiveProfile,
    active_profile,
    choose_transfer,
    unsupported_modes,
    update_watts,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@settings(max_examples=200, deadline=None)
@given(
    soc=st.floats(0, 100),
    floor=st.floats(0, 100),
    kwh=st.floats(1, 200),
    steps=st.lists(
        st.tuples(st.floats(-50_000, 50_000), st.floats(0, 7200)), min_size=1, max_size=20
    ),
)
def test_the_battery_moves_by_power_times_time_within_floor_and_full(soc, floor, kwh, steps):
    """SoC changes by the energy over the capacity; a discharge never takes it below the EV's
    floor, a charge never above 100 %; the registers count exactly the energy that moved."""
    model = ChargePoint.create("CP", ev=Ev(soc=soc, battery_kwh=kwh, v2g=True, min_soc=floor))
    model.start(1, NOW)
    evse = model.evse(1)
    model.ev.discharge_kw = model.ev.charge_kw = 50.0
    model.max_power_w = 50_000.0
    for watts, seconds in steps:
        before = model.ev.soc
        imported, exported = evse.energy_import_wh, evse.energy_export_wh
        model.set_profile(1, watts)
        model.advance(seconds)
        moved = (evse.energy_import_wh - imported) - (evse.energy_export_wh - exported)
        assert model.ev.soc - before == pytest.approx(moved * 100 / (kwh * 1000), abs=1e-6)
        assert abs(moved) <= abs(watts) * seconds / 3600 + 1e-6
        if watts < 0:
            assert model.ev.soc >= min(before, floor) - 1e-9
        assert 0 <= model.ev.soc <= 100


def test_discharge_stops_exactly_at_the_floor():
    model = ChargePoint.create("CP", ev=Ev(soc=21.0, battery_kwh=20.0, v2g=True, min_soc=20.0))
    model.start(1, NOW)
    model.set_profile(1, -11_000.0)
    model.advance(3600)
    evse = model.evse(1)
    assert model.ev.soc == 20.0
    assert evse.energy_export_wh == pytest.approx(200.0)
    assert model.target_power(evse) == 0.0
    values = {v["measurand"]: v["value"] for v in model.sampled_values(evse)}
    assert values["Power.Active.Export"] == 0


@pytest.mark.parametrize("version", [Version.V201, Version.V21])
@pytest.mark.parametrize("mode", sorted(BPT_MODES))
@pytest.mark.parametrize("allowed", [None, ("AC_three_phase",), tuple(BPT_MODES)])
def test_needs_are_schema_valid_for_every_mode(version, mode, allowed):
    model = ChargePoint.create("CP", ev=Ev(v2g=True, bpt_mode=mode, ev_id="EV-7"), version=version)
    messages = model.start(1, NOW)
    messages += _v2x.plugged_in(model, model.evse(1), NOW, allowed)
    for message in messages:
        validate_payload(version, message.action, Direction.REQUEST, message.payload)
    requested = messages[-1].payload["chargingNeeds"]["requestedEnergyTransfer"]
    if version is Version.V21 and allowed is not None and mode in allowed:
        assert requested == mode
    else:
        assert requested not in BPT_MODES


def test_a_plain_ev_negotiates_nothing():
    model = ChargePoint.create("CP", ev=Ev(v2g=False), version=Version.V21)
    model.start(1, NOW)
    assert _v2x.plugged_in(model, model.evse(1), NOW, ("AC_BPT",)) == []


def test_the_transfer_asked_for():
    ev = Ev(v2g=True, bpt_mode="DC_BPT")
    assert choose_transfer(ev, ("DC", "DC_BPT"), v21=True, bpt=True) == "DC_BPT"
    assert choose_transfer(ev, ("DC", "DC_BPT"), v21=True, bpt=False) == "DC"
    assert choose_transfer(ev, ("AC_BPT",), v21=True, bpt=True) == "DC"  # not its mode
    assert choose_transfer(ev, None, v21=True, bpt=True) == "DC"  # Q02.FR.04
    assert choose_transfer(ev, ("DC_BPT",), v21=False, bpt=True) == "DC"  # 2.0.1: no BPT


def test_unsupported_modes_and_dynamic_updates():
    def profile(*modes: str | None) -> dict:
        periods = [{"startPeriod": i * 60, "operationMode": m} for i, m in enumerate(modes)]
        return {"chargingSchedule": [{"chargingSchedulePeriod": periods}]}

    listed = ("ChargingOnly", "CentralSetpoint")
    assert unsupported_modes(profile("CentralSetpoint", "ChargingOnly"), listed) == []
    assert unsupported_modes(profile("ChargingOnly"), ()) == []  # always allowed
    assert unsupported_modes(profile("Idle", "ExternalSetpoint"), listed) == [
        "ExternalSetpoint",
        "Idle",
    ]
    in_watts = ActiveProfile(1, "TxProfile", "Dynamic", "CentralSetpoint", "W", 3)
    assert update_watts({"setpoint": -3000}, in_watts) == -3000
    assert update_watts({"dischargeLimit": -2000}, in_watts) == -2000
    assert update_watts({}, in_watts) is None
    in_amps = ActiveProfile(1, "TxProfile", "Dynamic", "ChargingOnly", "A", 1)
    assert update_watts({"limit": 10}, in_amps) == 2300


@pytest.mark.parametrize("version", [Version.V201, Version.V21])
@pytest.mark.parametrize(
    "action",
    [
        "SetChargingProfile",
        "ClearChargingProfile",
        "UpdateDynamicSchedule",
        "NotifyAllowedEnergyTransfer",
        "RequestStartTransaction",
    ],
)
def test_v2x_commands_answer_any_valid_request_validly(version, action):
    """Whatever schema-valid request the CSMS sends a V2X station mid-session, the answer is
    schema-valid, and so is every message (fresh needs included) it makes the station send."""
    from csms.simulator._answers import _schema
    from tests.protocol.strategies import from_schema

    from .test_pure import assert_answers_validly

    if version is Version.V201 and action in (
        "UpdateDynamicSchedule",
        "NotifyAllowedEnergyTransfer",
    ):
        return  # 2.1 only
    profile = {
        "id": 3,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Dynamic",
        "chargingSchedule": [{"chargingSchedulePeriod": [{"startPeriod": 0, "setpoint": -1}]}],
    }

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(_schema(version, f"{action}Request")))
    def check(request):
        model = ChargePoint.create("CP", evses=2, ev=Ev(v2g=True), version=version)
        model.start(1, NOW)
        _v2x.plugged_in(model, model.evse(1), NOW, ("AC_BPT",))
        model.set_profile(1, -1000.0, active_profile(profile))
        assert_answers_validly(model, version, action, request)

    check()


def test_profiles_stack_by_purpose_and_level():
    """K01: a TxProfile rules over a TxDefaultProfile, a higher stack level over a lower one; a
    profile replaces the one with its id or its purpose and stack level (K01.FR.05); clearing
    one falls back to the next (K10); a transaction's end removes its TxProfiles."""
    model = ChargePoint.create("CP", ev=Ev(v2g=True), version=Version.V21)
    model.start(1, NOW)
    evse = model.evse(1)

    def install(profile_id: int, purpose: str, level: int, watts: float) -> None:
        profile = ActiveProfile(profile_id, purpose, "Absolute", None, "W", 3, level)
        model.set_profile(1, watts, profile)

    install(1, "TxDefaultProfile", 0, 11_000.0)
    install(2, "TxProfile", 1, 7_000.0)
    install(3, "TxProfile", 2, -5_000.0)
    assert (evse.profile_w, evse.power_w) == (-5_000.0, -5_000.0)
    install(4, "TxProfile", 1, 3_000.0)  # replaces id 2 (same purpose and level)
    assert set(evse.stack.profiles) == {1, 3, 4}
    answer, sent = _v2x.clear_profile(model, {"chargingProfileId": 3}, NOW)
    assert answer == {"status": "Accepted"}
    assert [m.payload["triggerReason"] for m in sent] == ["ChargingRateChanged"]
    assert evse.power_w == 3_000.0
    assert _v2x.clear_profile(model, {"chargingProfileId": 3}, NOW)[0]["status"] == "Unknown"
    model.stop(1, NOW)
    assert set(evse.stack.profiles) == {1}
    criteria = {"chargingProfileCriteria": {"chargingProfilePurpose": "TxDefaultProfile"}}
    assert _v2x.clear_profile(model, criteria, NOW)[0]["status"] == "Accepted"
    assert evse.stack.profiles == {}


def test_only_a_21_ev_reports_a_rate_change_and_only_when_the_power_moved():
    """TransactionEvent Updated, triggerReason ChargingRateChanged (2.1), schema-valid, with the
    new power in its meter value; none when a profile leaves the power as it was, none on
    2.0.1 (whose EV reports it with its next periodic sample)."""
    discharge = {
        "id": 5,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -4000}],
            }
        ],
    }
    for version, expected in ((Version.V21, 1), (Version.V201, 0)):
        model = ChargePoint.create("CP", ev=Ev(v2g=True), version=version)
        model.start(1, NOW)
        request = {"evseId": 1, "chargingProfile": {**discharge, "transactionId": "tx"}}
        answer, sent = _v2x.set_profile(model, request, NOW)
        assert answer == {"status": "Accepted"}
        assert len(sent) == expected
        for message in sent:
            validate_payload(version, "TransactionEvent", Direction.REQUEST, message.payload)
            assert message.payload["eventType"] == "Updated"
            assert message.payload["triggerReason"] == "ChargingRateChanged"
            values = message.payload["meterValue"][0]["sampledValue"]
            exported = {v["measurand"]: v["value"] for v in values}["Power.Active.Export"]
            assert exported == 4000
        assert _v2x.set_profile(model, request, NOW)[1] == []  # the same power again


def test_a_cleared_discharge_profile_ends_the_evses_discharge_on_201():
    """A 2.0.1 EV discharging on a negative limit, and by a local `v2g start` at the prompt
    too: ClearChargingProfile of the discharge profile ends both (the CSMS restored charging),
    not only fresh needs; clearing a charging profile leaves a local discharge alone."""
    model = ChargePoint.create("CP", ev=Ev(v2g=True), version=Version.V201)
    model.start(1, NOW)
    evse = model.evse(1)
    model.discharge(evse, 3000.0)
    negative = ActiveProfile(7, "TxProfile", "Absolute", None, "W", 3, 1)
    model.set_profile(1, -5000.0, negative)
    assert evse.power_w == -3000.0  # the local discharge rules while it runs
    answer, _ = _v2x.clear_profile(model, {"chargingProfileId": 7}, NOW)
    assert answer == {"status": "Accepted"}
    assert evse.local_discharge_w is None
    assert evse.power_w > 0
    model.discharge(evse, 2000.0)
    charging = ActiveProfile(8, "TxProfile", "Absolute", None, "W", 3, 1)
    model.set_profile(1, 6000.0, charging)
    _v2x.clear_profile(model, {"chargingProfileId": 8}, NOW)
    assert evse.local_discharge_w == -2000.0
