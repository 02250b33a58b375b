"""The discharge session policy: the start's refusals, every end reason, Q02.FR.05
renegotiation, Q04 setpoint updates, Q11/Q12 reconnects, resuming after a node restart, and a
property test of its safety rules over random capabilities, preferences and meter series."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from csms.protocol import Version
from csms.services.v2g_preferences import DischargeWindow
from csms.services.v2g_profiles import tx_profile_id
from csms.services.v2g_session import (
    ChangePower,
    End,
    MeterReading,
    NeedsRenegotiated,
    OperatorStop,
    ProfileAnswer,
    Record,
    RestoreCharging,
    SendAllowedEnergyTransfer,
    SendProfile,
    SendSetpoint,
    SessionPolicy,
    SessionState,
    StartAccepted,
    StartRefused,
    StartRequest,
    StationDisconnected,
    StationFault,
    StationReconnected,
    Tick,
    TransactionEnded,
    state_from_json,
    state_to_json,
)
from csms.services.v2x_capability import StationV2XSupport

from .v2g_examples import BPT_EV, NOW, OPTED_IN, SP, V2X_STATION, check_wire

T0 = NOW
POLICY = SessionPolicy(tz=SP)
STATION = V2X_STATION
EV = BPT_EV
PREFS = OPTED_IN


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def request(**overrides) -> StartRequest:
    args = {
        "session_id": "s1",
        "station_id": "CP1",
        "evse_id": 1,
        "transaction_id": "tx-1",
        "user_id": "u1",
        "version": Version.V21,
        "station": STATION,
        "capability": EV,
        "preferences": PREFS,
        "power_w": Decimal(6000),
        "now": T0,
    } | overrides
    return StartRequest(**args)


def started(policy: SessionPolicy = POLICY, **overrides) -> SessionState:
    decision = policy.start(request(**overrides))
    assert isinstance(decision, StartAccepted)
    check_wire(decision.state.version, decision.effects)
    return decision.state


def discharging(**overrides) -> SessionState:
    state, _ = POLICY.step(started(**overrides), ProfileAnswer(at(1), accepted=True))
    assert state.state == "discharging"
    return state


def ends(effects) -> list[End]:
    return [e for e in effects if isinstance(e, End)]


# -- start ---------------------------------------------------------------------------------------


def test_a_start_commands_the_capped_setpoint_with_a_centralsetpoint_profile():
    """Q03.FR.01/02: the discharge profile; the power asked (6 kW) is capped by the user's
    maximum (5 kW) below the EV's (7 kW)."""
    decision = POLICY.start(request())
    assert isinstance(decision, StartAccepted)
    state = decision.state
    assert (state.state, state.setpoint_w, state.min_soc_percent) == (
        "starting",
        Decimal(5000),
        Decimal(30),
    )
    send, record = decision.effects
    assert isinstance(send, SendProfile)
    period = send.request["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period == {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -5000}
    assert record == Record("started", state)
    assert state.start_soc == Decimal(70)


def test_a_201_start_sends_a_negative_limit():
    ev = attrs.evolve(
        EV,
        requested_mode="AC_three_phase",
        available_modes=("AC_three_phase",),
        source="custom_data",
        discharge_capable=True,
    )
    decision = POLICY.start(
        request(
            version=Version.V201,
            capability=ev,
            station=StationV2XSupport(declared_bidirectional=True),
        )
    )
    assert isinstance(decision, StartAccepted)
    check_wire(Version.V201, decision.effects)
    period = decision.effects[0].request["chargingProfile"]["chargingSchedule"][0][
        "chargingSchedulePeriod"
    ][0]
    assert period == {"startPeriod": 0, "limit": -5000}


REFUSALS = [
    ({"station_connected": False}, "station_not_connected"),
    ({"transaction_id": None}, "no_active_transaction"),
    ({"session_active": True}, "session_active"),
    ({"capability": None}, "ev_not_bidirectional"),
    (
        {"capability": attrs.evolve(EV, requested_mode="DC", available_modes=("DC",))},
        "ev_not_bidirectional",
    ),
    (
        {"version": Version.V201, "station": StationV2XSupport(declared_bidirectional=True)},
        "ev_not_bidirectional",  # a 2.0.1 EV without the customData convention
    ),
    (
        {"station": StationV2XSupport(enabled=True, operation_modes=frozenset({"ChargingOnly"}))},
        "operation_mode_unsupported",  # K01.FR.115: CentralSetpoint is not listed
    ),
    ({"station": StationV2XSupport(declared_bidirectional=True)}, "operation_mode_unsupported"),
    ({"preferences": None}, "user_not_opted_in"),
    ({"preferences": attrs.evolve(PREFS, opt_in=False)}, "user_not_opted_in"),
    (
        {
            "preferences": attrs.evolve(
                PREFS, windows=(DischargeWindow(frozenset({0}), dt.time(19), dt.time(22)),)
            )
        },
        "outside_discharge_window",
    ),
    ({"cycles_today": 1}, "cycle_limit_reached"),
    ({"soc_percent": Decimal(30)}, "soc_at_floor"),  # at the floor counts
    ({"min_soc_percent": Decimal(75)}, "soc_at_floor"),  # a start may raise the floor
    ({"capability": attrs.evolve(EV, ev_min_v2x_energy_wh=Decimal(100))}, "soc_at_floor"),
    (
        {"preferences": attrs.evolve(PREFS, departure_energy_wh=Decimal(42000))},
        "soc_at_floor",  # 70 % of 60 kWh is the 42 kWh needed by departure
    ),
]


@pytest.mark.parametrize(("change", "code"), REFUSALS)
def test_a_start_is_refused_with_a_stable_code(change, code):
    assert POLICY.start(request(**change)) == StartRefused(code)


def test_a_lower_floor_asked_at_start_does_not_lower_the_users():
    state = started(min_soc_percent=Decimal(10))
    assert state.min_soc_percent == Decimal(30)


def test_a_start_needs_a_positive_power():
    with pytest.raises(ValueError, match="positive"):
        POLICY.start(request(power_w=Decimal(0)))


# -- renegotiation (Q02) -----------------------------------------------------------------------


def test_an_ev_charging_unidirectionally_is_asked_to_renegotiate():
    """Q02.FR.05: NotifyAllowedEnergyTransfer with the new list and the transactionId; the
    session waits in negotiating, then the renegotiated BPT needs get the profile."""
    dc = attrs.evolve(EV, requested_mode="DC", max_discharge_w=None)
    decision = POLICY.start(request(capability=dc))
    assert isinstance(decision, StartAccepted)
    check_wire(Version.V21, decision.effects)
    state = decision.state
    assert state.state == "negotiating"
    notify = decision.effects[0]
    assert isinstance(notify, SendAllowedEnergyTransfer)
    assert notify.request["transactionId"] == "tx-1"
    assert "DC_BPT" in notify.request["allowedEnergyTransfer"]
    state, effects = POLICY.step(
        state, NeedsRenegotiated(at(5), attrs.evolve(EV, max_discharge_w=Decimal(4000)))
    )
    check_wire(Version.V21, effects)
    assert (state.state, state.setpoint_w) == ("starting", Decimal(4000))  # the EV's new max
    assert isinstance(effects[0], SendProfile)


def test_a_renegotiation_without_bpt_or_in_time_fails():
    dc = attrs.evolve(EV, requested_mode="DC")
    state = started(capability=dc)
    _done, effects = POLICY.step(state, NeedsRenegotiated(at(5), dc))
    assert ends(effects) == [End("negotiation_failed", "failed")]
    _late, effects = POLICY.step(state, Tick(at(POLICY.negotiation_timeout_s)))
    assert ends(effects) == [End("negotiation_failed", "failed")]


# -- running -------------------------------------------------------------------------------------


def test_the_station_accepting_the_profile_starts_discharging():
    state = discharging()
    assert state.started_at == at(1)


def test_a_new_power_goes_out_with_update_dynamic_schedule():
    """Q04: a Dynamic profile's setpoint moves by UpdateDynamicSchedule, capped as ever."""
    state, effects = POLICY.step(discharging(), ChangePower(at(10), Decimal(9000)))
    check_wire(Version.V21, effects)
    (update,) = effects
    assert isinstance(update, SendSetpoint)
    assert update.setpoint_w == Decimal(-5000)
    assert update.request == {
        "chargingProfileId": tx_profile_id(1),
        "scheduleUpdate": {"setpoint": -5000},
    }
    state, effects = POLICY.step(state, ChangePower(at(11), Decimal(2000)))
    assert effects[0].setpoint_w == Decimal(-2000)


def test_an_absolute_policy_sends_a_new_profile_instead():
    policy = SessionPolicy(tz=SP, dynamic=False)
    state, _ = policy.step(started(policy), ProfileAnswer(at(1), accepted=True))
    state, effects = policy.step(state, ChangePower(at(10), Decimal(3000)))
    (send,) = effects
    assert isinstance(send, SendProfile)
    assert send.request["chargingProfile"]["chargingProfileKind"] == "Absolute"


def test_readings_update_soc_power_and_the_export_register():
    state = discharging()
    state, effects = POLICY.step(
        state, MeterReading(at(10), Decimal(69), Decimal(1000), Decimal(4900))
    )
    assert [e.kind for e in effects if isinstance(e, Record)] == ["updated"]
    state, effects = POLICY.step(state, MeterReading(at(12), None, Decimal(1005), None))
    assert effects == []  # the next update is due after update_interval_s
    assert (state.last_soc, state.last_power_w, state.exported_wh) == (
        Decimal(69),
        Decimal(4900),
        Decimal(5),
    )


def test_reconnecting_sends_the_profile_again():
    """Q12: the station may have dropped the profile after maxOfflineDuration."""
    state, effects = POLICY.step(discharging(), StationDisconnected(at(5)))
    assert effects == []
    state, effects = POLICY.step(state, StationReconnected(at(20)))
    check_wire(Version.V21, effects)
    assert isinstance(effects[0], SendProfile)
    assert state.disconnected_at is None
    state, effects = POLICY.step(state, Tick(at(5 + POLICY.disconnect_grace_s)))
    assert effects == []


# -- every end -----------------------------------------------------------------------------------

ENDINGS = [
    (MeterReading(at(30), soc=Decimal(30)), "soc_floor", "completed"),
    (MeterReading(at(30), soc=Decimal(29)), "soc_floor", "completed"),
    (OperatorStop(at(30)), "operator_stop", "completed"),
    (TransactionEnded(at(30)), "transaction_ended", "completed"),
    (StationFault(at(30)), "station_fault", "failed"),
    (ProfileAnswer(at(30), accepted=False), "profile_rejected", "failed"),
]


@pytest.mark.parametrize(("event", "reason", "outcome"), ENDINGS)
def test_every_end_restores_charging_records_and_ends(event, reason, outcome):
    state, effects = POLICY.step(discharging(), event)
    check_wire(Version.V21, effects)
    restore, record, end = effects
    assert isinstance(restore, RestoreCharging)
    assert (restore.clear is None) != (restore.profile is None)
    assert record == Record("completed", state)
    assert end == End(reason, outcome)
    assert (state.state, state.end_reason, state.ended_at) == (outcome, reason, at(30))
    assert POLICY.step(state, OperatorStop(at(40))) == (state, [])  # ended stays ended


def test_the_window_end_and_the_duration_end_the_session():
    window = DischargeWindow(frozenset({0}), dt.time(18), dt.time(19))  # until 22:00 UTC
    state = started(preferences=attrs.evolve(PREFS, windows=(window,)), duration_s=3600)
    assert (state.ends_at, state.ends_by) == (at(1800), "window_end")
    _, effects = POLICY.step(state, Tick(at(1799)))
    assert effects == []
    _, effects = POLICY.step(state, Tick(at(1800)))
    assert ends(effects) == [End("window_end", "completed")]
    short = started(duration_s=600)
    _, effects = POLICY.step(short, MeterReading(at(600), soc=Decimal(60)))
    assert ends(effects) == [End("duration_elapsed", "completed")]


def test_the_departure_need_ends_the_session():
    state = started(preferences=attrs.evolve(PREFS, departure_energy_wh=Decimal(30000)))
    _, effects = POLICY.step(state, MeterReading(at(30), soc=Decimal(50)))
    assert ends(effects) == [End("departure_energy", "completed")]


def test_a_station_gone_past_the_grace_ends_the_session():
    state, _ = POLICY.step(discharging(), StationDisconnected(at(5)))
    _, effects = POLICY.step(state, Tick(at(5 + POLICY.disconnect_grace_s - 1)))
    assert effects == []
    _, effects = POLICY.step(state, Tick(at(5 + POLICY.disconnect_grace_s)))
    assert ends(effects) == [End("station_disconnected", "failed")]


def test_charging_is_restored_with_a_chargingonly_profile_while_the_ev_needs_energy():
    """The EV is below its target SoC (80 %): a ChargingOnly profile replaces the discharge
    profile (Q02.FR.01/02); at its target, the discharge profile is cleared; after the
    transaction, only a clear makes sense."""
    _, effects = POLICY.step(discharging(), OperatorStop(at(30)))
    profile = effects[0].profile
    period = profile["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period == {"startPeriod": 0, "limit": 11000, "operationMode": "ChargingOnly"}
    full = discharging(capability=attrs.evolve(EV, state_of_charge=Decimal(90)))
    _, effects = POLICY.step(full, OperatorStop(at(30)))
    assert effects[0] == RestoreCharging(clear={"chargingProfileId": tx_profile_id(1)})
    _, effects = POLICY.step(discharging(), TransactionEnded(at(30)))
    assert effects[0].clear is not None


def test_exported_energy_is_the_register_difference():
    state = discharging()
    for i, (soc, register) in enumerate([(69, 100), (68, 900), (67, 1700)]):
        state, _ = POLICY.step(state, MeterReading(at(10 + i), Decimal(soc), Decimal(register)))
    state, _ = POLICY.step(state, OperatorStop(at(20)))
    assert state.exported_wh == Decimal(1600)
    assert (state.start_soc, state.last_soc) == (Decimal(70), Decimal(67))


# -- resume --------------------------------------------------------------------------------------


def test_a_stored_session_round_trips_through_json():
    state = discharging()
    state, _ = POLICY.step(state, MeterReading(at(10), Decimal("68.5"), Decimal("12.25")))
    assert state_from_json(state_to_json(state)) == state


def test_resuming_sends_the_profile_again_or_ends():
    state = state_from_json(state_to_json(discharging()))
    _resumed, effects = POLICY.resume(
        state, now=at(100), station_connected=True, transaction_active=True
    )
    assert isinstance(effects[0], SendProfile)
    waiting, effects = POLICY.resume(
        state, now=at(100), station_connected=False, transaction_active=True
    )
    assert (waiting.disconnected_at, effects) == (at(100), [])
    _, effects = POLICY.resume(state, now=at(100), station_connected=True, transaction_active=False)
    assert ends(effects) == [End("transaction_ended", "completed")]
    lost = attrs.evolve(state, state="requested")
    _, effects = POLICY.resume(lost, now=at(100), station_connected=True, transaction_active=True)
    assert ends(effects) == [End("node_restart_lost", "failed")]
