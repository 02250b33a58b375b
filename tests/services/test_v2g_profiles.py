"""The profiles csms sends for ISO 15118 needs (K15/K17, Q01/Q02) and V2G discharge (Q03/Q04,
Q11/Q12), and the check of the EV's schedule (K15.FR.11-13), every payload validated against
the official OCPP 2.1 / 2.0.1 schema."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.protocol import Direction, Version, validate_payload
from csms.services.v2g_profiles import (
    NO_LIMIT_W,
    SESSION_STACK_LEVEL,
    charge_limit_w,
    charging_only_profile,
    charging_profile_for_needs,
    clear_profile_request,
    discharge_profile,
    dynamic_schedule_update,
    pull_dynamic_schedule_response,
    schedule_decision,
    schedule_within_limits,
    tx_profile_id,
)
from csms.services.v2x_capability import EVCapability

from .v2g_examples import BPT_EV, NOW

EV = BPT_EV
EV_201 = attrs.evolve(
    EV, requested_mode="AC_three_phase", available_modes=("AC_three_phase",), source="custom_data"
)
DISCHARGE_FIELDS = ("dischargeLimit", "setpoint", "setpointReactive")
LIMIT_FIELDS = ("limit", "dischargeLimit")
PHASES = ("_L2", "_L3")


def discharge(ev: EVCapability, power: int, version: Version = Version.V21, **kw) -> dict:
    return discharge_profile(
        capability=ev,
        transaction_id="tx-1",
        discharge_w=Decimal(power),
        version=version,
        now=NOW,
        **kw,
    )


def valid(version: Version, action: str, payload: dict, direction=Direction.REQUEST) -> dict:
    validate_payload(version, action, direction, payload)
    return payload


def only_period(request: dict) -> dict:
    (schedule,) = request["chargingProfile"]["chargingSchedule"]
    (period,) = schedule["chargingSchedulePeriod"]
    return period


def field_names(period: dict, bases) -> set[str]:
    return {b + s for b in bases for s in ("", *PHASES)} & set(period)


# -- needs (K15, Q01, Q02) ---------------------------------------------------------------------


def test_charge_only_needs_get_a_chargingonly_txprofile_without_discharge_fields():
    """Q02.FR.01/02, K15.FR.07: a TxProfile for the transaction, operationMode ChargingOnly,
    no dischargeLimit / setpoint / setpointReactive (nor their L2/L3)."""
    request = charging_profile_for_needs(
        capability=attrs.evolve(EV, requested_mode="DC"),
        transaction_id="tx-1",
        version=Version.V21,
        now=NOW,
        v2x=False,
        station_max_w=Decimal(9000),
    )
    valid(Version.V21, "SetChargingProfile", request)
    profile = request["chargingProfile"]
    assert request["evseId"] == 1
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == "tx-1"
    assert profile["stackLevel"] == SESSION_STACK_LEVEL
    assert profile["chargingSchedule"][0]["chargingRateUnit"] == "W"
    assert profile["chargingSchedule"][0]["startSchedule"] == "2026-03-02T21:30:00Z"
    period = only_period(request)
    assert period == {"startPeriod": 0, "limit": 9000, "operationMode": "ChargingOnly"}
    assert not field_names(period, DISCHARGE_FIELDS)


def test_201_needs_get_a_plain_txprofile():
    """K15.FR.07 on OCPP 2.0.1: no operationMode exists; the EV's maximum is the limit."""
    request = charging_profile_for_needs(
        capability=EV_201, transaction_id="tx-2", version=Version.V201, now=NOW, v2x=True
    )
    valid(Version.V201, "SetChargingProfile", request)
    assert only_period(request) == {"startPeriod": 0, "limit": 11000}
    assert request["chargingProfile"]["chargingProfileKind"] == "Absolute"


def test_allowed_v2x_needs_get_a_dynamic_centralsetpoint_profile_that_charges():
    """Q01 step 5 (a V2X operationMode other than ChargingOnly), Q03.FR.02 (no limit nor
    dischargeLimit), Q04 (Dynamic, so a session changes the setpoint), Q11 (offline)."""
    request = charging_profile_for_needs(
        capability=EV, transaction_id="tx-1", version=Version.V21, now=NOW, v2x=True
    )
    valid(Version.V21, "SetChargingProfile", request)
    profile = request["chargingProfile"]
    assert profile["chargingProfileKind"] == "Dynamic"
    assert profile["maxOfflineDuration"] > 0
    assert profile["invalidAfterOfflineDuration"] is True
    period = only_period(request)
    assert period == {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": 11000}
    assert not field_names(period, LIMIT_FIELDS)


def test_the_charge_limit_is_the_lower_of_what_is_known():
    assert charge_limit_w(EV, Decimal(22000)) == Decimal(11000)
    assert charge_limit_w(attrs.evolve(EV, max_charge_w=None), Decimal(22000)) == Decimal(22000)
    assert charge_limit_w(None) == NO_LIMIT_W


# -- discharge (Q03, Q04) ----------------------------------------------------------------------


def test_a_21_discharge_is_a_negative_central_setpoint_without_limits():
    """Q03.FR.01/02: operationMode CentralSetpoint, negative setpoint, no limit or
    dischargeLimit; V2X.08: no L2/L3 values the EV did not report; Q11/Q12 offline fields."""
    request = discharge_profile(
        capability=EV,
        transaction_id="tx-1",
        discharge_w=Decimal(5000),
        version=Version.V21,
        now=NOW,
    )
    valid(Version.V21, "SetChargingProfile", request)
    period = only_period(request)
    assert period == {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -5000}
    profile = request["chargingProfile"]
    assert profile["chargingProfileKind"] == "Dynamic"
    assert (profile["maxOfflineDuration"], profile["invalidAfterOfflineDuration"]) == (60, True)
    assert profile["id"] == tx_profile_id(1)


def test_phase_setpoints_only_onto_the_phases_the_ev_reported():
    """V2X.07/08: setpoint_L2/_L3 only with setpoint and only when the EV reported
    maxDischargePower_L2/_L3; the phases together never exceed the power asked for."""
    ev = attrs.evolve(EV, max_discharge_w_l2=Decimal(2000))
    request = discharge_profile(
        capability=ev,
        transaction_id="tx-1",
        discharge_w=Decimal(6000),
        version=Version.V21,
        now=NOW,
    )
    valid(Version.V21, "SetChargingProfile", request)
    period = only_period(request)
    assert period["setpoint"] == -3000
    assert period["setpoint_L2"] == -2000  # capped by the phase's maximum
    assert "setpoint_L3" not in period


def test_a_201_discharge_is_a_negative_limit():
    """docs/V2G.md, OCPP 2.0.1 convention: a TxProfile whose limit is -power."""
    request = discharge_profile(
        capability=EV_201,
        transaction_id="tx-2",
        discharge_w=Decimal(7000),
        version=Version.V201,
        now=NOW,
        duration_s=1800,
    )
    valid(Version.V201, "SetChargingProfile", request)
    assert only_period(request) == {"startPeriod": 0, "limit": -7000}
    assert request["chargingProfile"]["chargingSchedule"][0]["duration"] == 1800


@pytest.mark.parametrize("power", [Decimal(0), Decimal(-1), Decimal(7001)])
def test_a_discharge_beyond_the_ev_or_not_positive_is_refused(power):
    with pytest.raises(ValueError, match="discharge power"):
        discharge_profile(
            capability=EV, transaction_id="t", discharge_w=power, version=Version.V21, now=NOW
        )


def test_needs_discharge_and_restore_profiles_replace_each_other():
    """K01.FR.39: one TxProfile per transaction and stack level: all share id and level."""
    profiles = [
        charging_profile_for_needs(
            capability=EV, transaction_id="t", version=Version.V21, now=NOW, v2x=True
        ),
        discharge_profile(
            capability=EV, transaction_id="t", discharge_w=Decimal(1), version=Version.V21, now=NOW
        ),
        charging_only_profile(
            evse_id=1, transaction_id="t", limit_w=Decimal(1), version=Version.V21, now=NOW
        ),
    ]
    assert {(p["chargingProfile"]["id"], p["chargingProfile"]["stackLevel"]) for p in profiles} == {
        (tx_profile_id(1), SESSION_STACK_LEVEL)
    }
    assert clear_profile_request(1) == {"chargingProfileId": tx_profile_id(1)}
    valid(Version.V21, "ClearChargingProfile", clear_profile_request(1))
    valid(Version.V201, "ClearChargingProfile", clear_profile_request(1))


def test_a_negative_charging_only_limit_is_refused():
    with pytest.raises(ValueError, match="not negative"):
        charging_only_profile(
            evse_id=1, transaction_id="t", limit_w=Decimal(-1), version=Version.V21, now=NOW
        )


def test_the_setpoint_moves_with_update_dynamic_schedule():
    """Q04: UpdateDynamicScheduleRequest {chargingProfileId, scheduleUpdate.setpoint}."""
    update = dynamic_schedule_update(evse_id=1, setpoint_w=Decimal(-2500), capability=EV)
    valid(Version.V21, "UpdateDynamicSchedule", update)
    assert update == {"chargingProfileId": tx_profile_id(1), "scheduleUpdate": {"setpoint": -2500}}
    back = dynamic_schedule_update(evse_id=1, setpoint_w=Decimal(4000), capability=EV)
    assert back["scheduleUpdate"] == {"setpoint": 4000}


def test_a_pull_is_answered_with_the_current_setpoint():
    """Q04 scenario #2: PullDynamicScheduleUpdateResponse with the values to use."""
    answer = pull_dynamic_schedule_response(Decimal(-3000), EV)
    valid(Version.V21, "PullDynamicScheduleUpdate", answer, Direction.RESPONSE)
    assert answer == {"status": "Accepted", "scheduleUpdate": {"setpoint": -3000}}
    unknown = pull_dynamic_schedule_response(None, None)
    valid(Version.V21, "PullDynamicScheduleUpdate", unknown, Direction.RESPONSE)
    assert unknown["status"] == "Rejected"


evs = st.builds(
    EVCapability,
    evse_id=st.integers(1, 8),
    requested_mode=st.just("AC_BPT"),
    available_modes=st.just(("AC_BPT",)),
    source=st.just("v2x_parameters"),
    max_discharge_w=st.integers(1000, 50000).map(Decimal),
    max_discharge_w_l2=st.none() | st.integers(100, 20000).map(Decimal),
    max_discharge_w_l3=st.none() | st.integers(100, 20000).map(Decimal),
)


@given(evs, st.floats(0.01, 1.0), st.booleans())
def test_every_discharge_profile_is_valid_and_within_the_power(ev, fraction, dynamic):
    """Schema-valid, no limit fields (Q03.FR.02), phases only as reported (V2X.08), and the
    magnitude of the setpoints together no more than the power asked for."""
    power = (ev.max_discharge_w * Decimal(fraction)).quantize(Decimal(1)) or Decimal(1)
    request = discharge_profile(
        capability=ev,
        transaction_id="t",
        discharge_w=power,
        version=Version.V21,
        now=NOW,
        dynamic=dynamic,
    )
    valid(Version.V21, "SetChargingProfile", request)
    period = only_period(request)
    assert not field_names(period, LIMIT_FIELDS)
    reported = {"_L2": ev.max_discharge_w_l2, "_L3": ev.max_discharge_w_l3}
    for suffix, value in reported.items():
        assert ("setpoint" + suffix in period) == (value is not None)
    total = sum(-Decimal(str(period[k])) for k in period if k.startswith("setpoint"))
    assert 0 < total <= power + Decimal("0.001")


# -- the EV's schedule (K15.FR.11-13) ---------------------------------------------------------


def ev_schedule(*periods: tuple[int, float], start: str | None = None, unit: str = "W") -> dict:
    schedule: dict = {
        "id": 7,
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
    }
    if start is not None:
        schedule["startSchedule"] = start
    request = {"timeBase": "2026-03-02T21:30:00Z", "evseId": 1, "chargingSchedule": schedule}
    return valid(Version.V21, "NotifyEVChargingSchedule", request)


CHARGING = charging_profile_for_needs(
    capability=attrs.evolve(EV, requested_mode="DC"),
    transaction_id="t",
    version=Version.V21,
    now=NOW,
    v2x=False,
)  # ChargingOnly, limit 11000 W from 21:30


def test_a_schedule_within_the_limits_is_accepted():
    """K15.FR.11: within the limits of the CSMS ChargingSchedule: Accepted."""
    request = ev_schedule((0, 11000), (600, 5000))
    assert schedule_within_limits(request, CHARGING)
    decision = schedule_decision(request, CHARGING)
    assert (decision.status, decision.renegotiate) == ("Accepted", False)
    valid(Version.V21, "NotifyEVChargingSchedule", decision.response(), Direction.RESPONSE)


def test_a_schedule_beyond_the_limits_is_rejected_and_renegotiated_once():
    """K15.FR.12/13 (TC_K_55): beyond the limit: Rejected and a new renegotiation (K16),
    but not again and again for the same needs."""
    request = ev_schedule((0, 11000), (600, 11001))
    assert not schedule_within_limits(request, CHARGING)
    first = schedule_decision(request, CHARGING)
    assert (first.status, first.renegotiate) == ("Rejected", True)
    again = schedule_decision(request, CHARGING, renegotiations=1)
    assert (again.status, again.renegotiate) == ("Rejected", False)


def test_discharging_under_a_chargingonly_profile_is_beyond_it():
    assert not schedule_within_limits(ev_schedule((0, -1000)), CHARGING)


def test_only_the_overlap_in_time_counts():
    """Before the profile's startSchedule csms set no limit."""
    request = ev_schedule((0, 50000), (300, 9000), start="2026-03-02T21:25:00Z")
    assert schedule_within_limits(request, CHARGING)
    late = ev_schedule((0, 50000), (360, 9000), start="2026-03-02T21:25:00Z")
    assert not schedule_within_limits(late, CHARGING)  # 50 kW until 21:31


def test_a_discharge_schedule_is_bounded_by_the_setpoint():
    sent = discharge(EV, 5000)
    assert schedule_within_limits(ev_schedule((0, -5000)), sent)
    assert not schedule_within_limits(ev_schedule((0, -5001)), sent)
    assert not schedule_within_limits(ev_schedule((0, 100)), sent)  # charging instead


def test_a_201_discharge_limit_bounds_the_schedule_below_zero():
    sent = discharge_profile(
        capability=EV_201,
        transaction_id="t",
        discharge_w=Decimal(7000),
        version=Version.V201,
        now=NOW,
    )
    assert schedule_within_limits(ev_schedule((0, -7000)), sent)
    assert not schedule_within_limits(ev_schedule((0, -7400)), sent)


def test_another_unit_or_nothing_sent_is_taken_as_within():
    """The station checked it (K15.FR.09); without a profile there is nothing to exceed."""
    assert schedule_within_limits(ev_schedule((0, 500), unit="A"), CHARGING)
    assert schedule_decision(ev_schedule((0, 99999)), None).status == "Accepted"
