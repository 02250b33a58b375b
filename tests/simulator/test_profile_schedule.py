"""The simulated EVSE follows a charging profile's whole schedule (K01): the period in force at
the simulator's time, counted from the schedule's start (``startSchedule`` when Absolute or
Recurring, the installation when Relative or without one); a change of period is a rate
change; the K01 stack still decides which profile rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from csms.protocol import Direction, Version, validate_payload
from csms.simulator import _v2x
from csms.simulator._ev import Ev
from csms.simulator._model import ChargePoint
from csms.simulator._profiles import Schedule, schedule_of

T0 = dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)
SPREAD, FULL, BOUNDARY = 2000.0, 11000.0, 900


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def needs_profile(kind: str = "Absolute", *, start: dt.datetime | None = T0, **more: Any) -> dict:
    """The two-period needs shape csms sends (v2g_needs_schedule): spread, then full power."""
    schedule: dict[str, Any] = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": SPREAD, "operationMode": "ChargingOnly"},
            {"startPeriod": BOUNDARY, "limit": FULL, "operationMode": "ChargingOnly"},
        ],
    }
    if start is not None:
        schedule["startSchedule"] = start.isoformat().replace("+00:00", "Z")
    return {
        "id": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": kind,
        "chargingSchedule": [schedule | more],
    }


def test_the_period_in_force_before_at_each_boundary_and_after_the_last():
    schedule = schedule_of(needs_profile(), installed=_at(-5000))
    assert schedule.start == T0  # Absolute: its startSchedule, not the installation
    assert schedule.watts_at(_at(-0.001)) is None  # not started: the profile does not apply
    assert schedule.watts_at(T0) == SPREAD
    assert schedule.watts_at(_at(BOUNDARY - 0.001)) == SPREAD
    assert schedule.watts_at(_at(BOUNDARY)) == FULL
    assert schedule.watts_at(_at(30 * 86_400)) == FULL  # the last period lasts
    assert schedule.next_change(_at(-10)) == T0
    assert schedule.next_change(T0) == _at(BOUNDARY)
    assert schedule.next_change(_at(BOUNDARY)) is None


def test_a_relative_profile_and_one_without_start_schedule_count_from_installation():
    installed = _at(4000)
    for profile in (needs_profile("Relative"), needs_profile(start=None)):
        schedule = schedule_of(profile, installed)
        assert schedule.start == installed
        assert schedule.watts_at(_at(4000 + BOUNDARY - 1)) == SPREAD
        assert schedule.watts_at(_at(4000 + BOUNDARY)) == FULL


def test_duration_recurrence_and_amperes():
    ends = schedule_of(needs_profile(duration=1200), None)
    assert ends.watts_at(_at(1199)) == FULL
    assert ends.watts_at(_at(1200)) is None
    assert ends.next_change(_at(BOUNDARY)) == _at(1200)
    daily = schedule_of(needs_profile("Recurring") | {"recurrencyKind": "Daily"}, None)
    assert daily.watts_at(_at(86_400 + 10)) == SPREAD  # the day's schedule again
    assert daily.watts_at(_at(86_400 + BOUNDARY)) == FULL
    assert daily.next_change(_at(BOUNDARY)) == _at(86_400)
    amps = needs_profile(chargingRateUnit="A")
    amps["chargingSchedule"][0]["chargingSchedulePeriod"][1]["numberPhases"] = 1
    in_amps = schedule_of(amps, None)
    assert in_amps.periods == ((0.0, SPREAD * 230 * 3), (BOUNDARY, FULL * 230))


def test_a_constant_power_has_no_start_and_no_change():
    constant = Schedule.constant(-5000.0)
    assert constant.watts_at(None) == constant.watts_at(_at(1e6)) == -5000.0
    assert constant.next_change(T0) is None


def started(version: Version = Version.V21) -> ChargePoint:
    model = ChargePoint.create("CP", ev=Ev(soc=20.0, battery_kwh=100.0), version=version)
    model.advance(0, _at(-100))  # the model's clock
    model.start(1, _at(-100))
    return model


def test_the_evse_follows_the_schedule_and_its_energy_changes_rate_at_the_boundary():
    """The energy of a span that crosses a boundary is each period's power for its part of it."""
    model = started()
    request = {"evseId": 1, "chargingProfile": {**needs_profile(), "transactionId": "tx"}}
    assert _v2x.set_profile(model, request, _at(-100))[0] == {"status": "Accepted"}
    evse = model.evse(1)
    assert evse.power_w == 22_000.0  # not started yet: nothing limits the EVSE
    model.advance(100, T0)
    assert evse.power_w == SPREAD
    before = evse.energy_import_wh
    model.advance(2 * BOUNDARY, _at(2 * BOUNDARY))
    expected = (SPREAD * BOUNDARY + FULL * BOUNDARY) / 3600
    assert evse.energy_import_wh - before == pytest.approx(expected)
    assert evse.power_w == FULL


@pytest.mark.parametrize(("version", "reports"), [(Version.V21, 1), (Version.V201, 0)])
def test_a_change_of_period_is_a_rate_change(version, reports):
    """2.1: TransactionEvent Updated ChargingRateChanged with the new power once the next
    period began; 2.0.1 EVs report it with their next sample; none within a period."""
    model = started(version)
    profile = {**needs_profile(), "transactionId": "tx"}
    _v2x.set_profile(model, {"evseId": 1, "chargingProfile": profile}, _at(-100))
    model.advance(100, T0)
    assert _v2x.follow_schedules(model, 60, _at(60), offline=False) == []
    sent = _v2x.follow_schedules(model, BOUNDARY, _at(BOUNDARY + 60), offline=False)
    assert len(sent) == reports
    for message in sent:
        validate_payload(version, "TransactionEvent", Direction.REQUEST, message.payload)
        assert message.payload["triggerReason"] == "ChargingRateChanged"
        values = message.payload["meterValue"][0]["sampledValue"]
        assert {v["measurand"]: v["value"] for v in values}["Power.Active.Import"] == FULL


def test_stacking_rules_hold_period_by_period():
    """K01: the TxProfile rules while one of its periods is in force; before its start and
    after its duration the TxDefaultProfile below it does; Dynamic updates still apply."""
    model = started()
    evse = model.evse(1)
    default = needs_profile(start=_at(-100))
    default |= {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile"}
    default["chargingSchedule"][0]["chargingSchedulePeriod"] = [{"startPeriod": 0, "limit": 4000}]
    _v2x.set_profile(model, {"evseId": 1, "chargingProfile": default}, _at(-100))
    tx = needs_profile(duration=2 * BOUNDARY)
    _v2x.set_profile(model, {"evseId": 1, "chargingProfile": tx}, _at(-100))
    assert (evse.profile is not None and evse.profile.id, evse.power_w) == (1, 4000.0)
    model.advance(100, T0)
    assert (evse.profile is not None and evse.profile.id, evse.power_w) == (7, SPREAD)
    model.advance(2 * BOUNDARY, _at(2 * BOUNDARY))
    assert (evse.profile is not None and evse.profile.id, evse.power_w) == (1, 4000.0)
    dynamic = needs_profile("Dynamic", start=None) | {"id": 9, "stackLevel": 3}
    _v2x.set_profile(model, {"evseId": 1, "chargingProfile": dynamic}, _at(2 * BOUNDARY))
    assert evse.power_w == SPREAD
    update = {"chargingProfileId": 9, "scheduleUpdate": {"limit": 3000}}
    assert _v2x.update_dynamic_schedule(model, update, _at(2 * BOUNDARY))[0]["status"] == (
        "Accepted"
    )
    model.advance(3 * BOUNDARY, _at(5 * BOUNDARY))  # past its own boundary: the update holds
    assert evse.power_w == 3000.0


def test_a_relative_profile_rules_from_its_installation_on():
    """Installed just after the model's clock last moved (the station catches up, then
    answers), a Relative profile applies at once."""
    model = started()
    relative = needs_profile("Relative", start=None) | {"transactionId": "tx"}
    _v2x.set_profile(model, {"evseId": 1, "chargingProfile": relative}, _at(-99.999))
    assert model.evse(1).power_w == SPREAD
    model.advance(BOUNDARY, _at(BOUNDARY - 99.999))
    assert model.evse(1).power_w == FULL
