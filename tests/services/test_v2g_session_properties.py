"""Property test of the discharge session policy (SPEC section 6): for random capabilities,
preferences, requested powers and series of meter readings interleaved with every other input,

- no commanded setpoint ever exceeds min(the user's maximum, the EV's maximum discharge);
- no session continues at or below the SoC floor: the reading that reaches it ends it;
- every end restores charging, once, and nothing is sent after it;
- ``exportedWh`` is the export register's last reading minus its first;
- every payload the policy asks to send is valid against the official schema (2.1 / 2.0.1).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.protocol import Version
from csms.services.v2g_preferences import V2GPreferences
from csms.services.v2g_session import (
    ChangePower,
    End,
    MeterReading,
    NeedsRenegotiated,
    OperatorStop,
    ProfileAnswer,
    RestoreCharging,
    SendAllowedEnergyTransfer,
    SendProfile,
    SendSetpoint,
    SessionPolicy,
    StartAccepted,
    StartRefused,
    StartRequest,
    StationDisconnected,
    StationFault,
    StationReconnected,
    Tick,
    TransactionEnded,
)
from csms.services.v2x_capability import EVCapability, StationV2XSupport

from .v2g_examples import NOW, SP, check_wire

T0 = NOW
POLICY = SessionPolicy(tz=SP)
watts = st.integers(100, 60000).map(Decimal)


@st.composite
def evs(draw, version: Version) -> EVCapability:
    common = {
        "evse_id": draw(st.integers(1, 4)),
        "max_charge_w": draw(st.none() | watts),
        "battery_capacity_wh": draw(st.none() | st.integers(20000, 100000).map(Decimal)),
        "target_soc": draw(st.none() | st.integers(50, 100)),
    }
    if version is Version.V201:
        return EVCapability(
            requested_mode="AC_three_phase",
            available_modes=("AC_three_phase",),
            source="custom_data",
            discharge_capable=True,
            max_discharge_w=draw(watts),
            **common,
        )
    return EVCapability(
        requested_mode=draw(st.sampled_from(["DC_BPT", "AC_BPT", "DC"])),  # DC: negotiating
        available_modes=("DC", "DC_BPT", "AC_BPT"),
        source="v2x_parameters",
        max_discharge_w=draw(st.none() | watts),
        max_discharge_w_l2=draw(st.none() | watts),
        max_discharge_w_l3=draw(st.none() | watts),
        **common,
    )


@st.composite
def inputs(draw, count: int) -> list:
    """Readings (SoC mostly falling, the export register never falling) among the other
    inputs, at increasing times."""
    t, soc, register = 0, draw(st.integers(0, 100)), draw(st.integers(0, 10**6))
    events = []
    for _ in range(count):
        t += draw(st.integers(1, 120))
        at = T0 + dt.timedelta(seconds=t)
        kind = draw(st.integers(0, 15))
        if kind <= 6:
            soc = max(0, min(100, soc + draw(st.integers(-6, 1))))
            register += draw(st.integers(0, 3000))
            events.append(
                MeterReading(
                    at,
                    draw(st.none() | st.just(Decimal(soc))),
                    draw(st.none() | st.just(Decimal(register))),
                    draw(st.none() | watts),
                )
            )
        elif kind == 7:
            events.append(Tick(at))
        elif kind == 8:
            events.append(ProfileAnswer(at, accepted=draw(st.integers(0, 5)) > 0))
        elif kind == 9:
            events.append(StationDisconnected(at))
        elif kind == 10:
            events.append(StationReconnected(at))
        elif kind == 11:
            events.append(ChangePower(at, draw(watts)))
        elif kind == 12:
            events.append(NeedsRenegotiated(at, draw(evs(Version.V21))))
        else:
            events.append(
                draw(st.sampled_from([OperatorStop, TransactionEnded, StationFault, Tick]))(at)
            )
    return events


def commanded_w(effect) -> Decimal | None:
    """The discharge power an effect commands (a positive magnitude), None if none."""
    if isinstance(effect, SendSetpoint):
        return -effect.setpoint_w
    if not isinstance(effect, SendProfile):
        return None
    period = effect.request["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    if "setpoint" in period:
        return sum(-Decimal(str(v)) for k, v in period.items() if k.startswith("setpoint"))
    return -Decimal(str(period["limit"]))


def check_due(state) -> None:
    """``due`` is when a tick next matters: one a microsecond earlier changes nothing, one at
    it ends the session (the sessions' timer wakes a session then, and only then)."""
    due = POLICY.due(state)
    if not state.active:
        assert due is None
        return
    late = (due or state.requested_at) + dt.timedelta(days=400)
    if due is None:
        assert POLICY.step(state, Tick(late)) == (state, [])
        return
    assert POLICY.step(state, Tick(due - dt.timedelta(microseconds=1))) == (state, [])
    _, effects = POLICY.step(state, Tick(due))
    assert any(isinstance(e, End) for e in effects)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([Version.V21, Version.V201]).flatmap(
        lambda v: st.tuples(st.just(v), evs(v), inputs(40))
    ),
    st.integers(10, 100).map(Decimal),  # the user's floor
    watts,  # the user's maximum
    watts,  # the power asked for
    st.integers(0, 100).map(Decimal),  # the SoC at the start
)
def test_the_session_policy_keeps_its_safety_rules(drawn, floor, user_max, power, start_soc):
    version, ev, events = drawn
    station = StationV2XSupport(
        enabled=True,
        operation_modes=frozenset({"ChargingOnly", "CentralSetpoint"}),
        declared_bidirectional=version is Version.V201,
    )
    prefs = V2GPreferences(
        user_id="u", opt_in=True, min_soc_percent=floor, max_discharge_w=user_max
    )
    decision = POLICY.start(
        StartRequest(
            session_id="s",
            station_id="CP",
            evse_id=ev.evse_id,
            transaction_id="tx",
            user_id="u",
            version=version,
            station=station,
            capability=ev,
            preferences=prefs,
            power_w=power,
            now=T0,
            soc_percent=start_soc,
        )
    )
    if isinstance(decision, StartRefused):
        assert decision.code == "soc_at_floor"
        assert start_soc <= floor
        return
    assert isinstance(decision, StartAccepted)
    assert start_soc > floor
    state, effects = decision.state, list(decision.effects)
    first_register = last_register = None
    ended = 0
    for event in [None, *events]:
        if event is not None:
            was_active = state.active
            state, effects = POLICY.step(state, event)
            if not was_active:
                assert effects == []  # nothing after the end
                continue
            if isinstance(event, MeterReading) and event.export_wh is not None:
                first_register = first_register if first_register is not None else event.export_wh
                last_register = event.export_wh
            if isinstance(event, MeterReading) and event.soc is not None and event.soc <= floor:
                assert not state.active  # ended by the very reading at or below the floor
        check_wire(version, effects)
        check_due(state)
        limit = min(user_max, state.ev_max_w) if state.ev_max_w is not None else user_max
        for effect in effects:
            power_sent = commanded_w(effect)
            if power_sent is not None:
                assert 0 < power_sent <= limit
                assert power_sent <= user_max
            if isinstance(effect, SendAllowedEnergyTransfer):
                assert version is Version.V21
        if any(isinstance(e, End) for e in effects):
            ended += 1
            kinds = [type(e) for e in effects]
            assert kinds.index(RestoreCharging) < kinds.index(End)
            assert not state.active
    assert ended == (0 if state.active else 1)
    if not state.active:
        expected = Decimal(0) if first_register is None else last_register - first_register
        assert state.exported_wh == expected
