"""The schedule that answers an EV's charging needs (K15 "charging with load leveling",
K15.FR.07, K17.FR.07): the energy needed spread to the departure, within the EV's and the
station's maximum, full power when the time is too short, a bounded number of periods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from hypothesis import given
from hypothesis import strategies as st

from csms.protocol import Direction, Version, validate_payload
from csms.services.v2g_needs_schedule import (
    MAX_NEEDS_PERIODS,
    departure_at,
    energy_needed_wh,
    needs_periods,
    periods_allowed,
)
from csms.services.v2g_profiles import (
    ScheduleDecision,
    charging_profile_for_needs,
    schedule_decision,
)

from .v2g_examples import BPT_EV, NOW, OPTED_IN, SP

HOUR = dt.timedelta(hours=1)
CHARGE_EV = attrs.evolve(
    BPT_EV, requested_mode="DC", available_modes=("DC",), source="declared", max_discharge_w=None
)


def delivered_wh(periods: list[tuple[int, Decimal]], seconds: int) -> Decimal:
    """The energy the schedule lets through in its first ``seconds``, at every limit in full."""
    total = Decimal(0)
    for i, (start, watts) in enumerate(periods):
        end = periods[i + 1][0] if i + 1 < len(periods) else seconds
        span = max(0, min(end, seconds) - start)
        total += watts * span / 3600
    return total


# -- the energy and the departure ---------------------------------------------------------------


def test_the_energy_needed_is_the_evs_request_or_what_the_owner_still_lacks():
    ev = attrs.evolve(CHARGE_EV, energy_request_wh=Decimal(10_000))
    assert energy_needed_wh(ev, None) == Decimal(10_000)
    # 40 kWh wanted, 70 % of 60 kWh held: 0 more; the EV's 10 kWh wins
    prefs = attrs.evolve(OPTED_IN, departure_energy_wh=Decimal(40_000))
    assert energy_needed_wh(ev, prefs) == Decimal(10_000)
    # 50 kWh wanted, 42 kWh held: 8 kWh, the EV asked for nothing
    prefs = attrs.evolve(OPTED_IN, departure_energy_wh=Decimal(50_000))
    assert energy_needed_wh(CHARGE_EV, prefs) == Decimal(8_000)
    # the SoC unknown: the whole of the owner's energy (never under-estimated)
    assert energy_needed_wh(attrs.evolve(CHARGE_EV, state_of_charge=None), prefs) == 50_000
    assert energy_needed_wh(CHARGE_EV, None) is None


def test_the_departure_is_the_evs_else_the_owners_next_local_time():
    ev_leaves = NOW + 3 * HOUR
    prefs = attrs.evolve(OPTED_IN, departure_time=dt.time(7, 30))
    ev = attrs.evolve(CHARGE_EV, departure_time=ev_leaves)
    assert departure_at(ev, prefs, now=NOW, tz=SP) == ev_leaves
    # NOW is Monday 18:30 in Sao Paulo (UTC-3): 07:30 is Tuesday 10:30 UTC, 20:00 today 23:00
    morning = attrs.evolve(OPTED_IN, departure_time=dt.time(7, 30))
    assert departure_at(CHARGE_EV, morning, now=NOW, tz=SP) == dt.datetime(
        2026, 3, 3, 10, 30, tzinfo=dt.UTC
    )
    evening = attrs.evolve(OPTED_IN, departure_time=dt.time(20, 0))
    assert departure_at(CHARGE_EV, evening, now=NOW, tz=SP) == dt.datetime(
        2026, 3, 2, 23, 0, tzinfo=dt.UTC
    )
    assert departure_at(CHARGE_EV, OPTED_IN, now=NOW, tz=SP) is None


def test_the_periods_allowed_are_the_smallest_bound():
    assert periods_allowed(None, None) == MAX_NEEDS_PERIODS
    assert periods_allowed(1, None) == 1
    assert periods_allowed(5, 0) == MAX_NEEDS_PERIODS


# -- the periods ---------------------------------------------------------------------------------


def test_the_energy_is_spread_to_the_departure_then_full_power():
    """20 kWh in 4 h: 5 kW until the departure, the station's 11 kW after it."""
    periods = needs_periods(
        energy_wh=Decimal(20_000), departure=NOW + 4 * HOUR, now=NOW, max_w=Decimal(11_000)
    )
    assert periods == [(0, Decimal(5000)), (4 * 3600, Decimal(11_000))]


def test_too_little_time_charges_at_full_power():
    periods = needs_periods(
        energy_wh=Decimal(50_000), departure=NOW + 2 * HOUR, now=NOW, max_w=Decimal(11_000)
    )
    assert periods == [(0, Decimal(11_000))]


def test_unknown_or_past_needs_charge_at_full_power():
    full = [(0, Decimal(7000))]
    for energy, departure in [
        (None, NOW + HOUR),
        (Decimal(1000), None),
        (Decimal(1000), NOW - HOUR),
        (Decimal(0), NOW + HOUR),
    ]:
        shape = needs_periods(energy_wh=energy, departure=departure, now=NOW, max_w=Decimal(7000))
        assert shape == full


def test_the_spread_is_never_below_the_evs_minimum_charge_power():
    periods = needs_periods(
        energy_wh=Decimal(1000),
        departure=NOW + 10 * HOUR,
        now=NOW,
        max_w=Decimal(11_000),
        min_w=Decimal(1400),
    )
    assert periods[0] == (0, Decimal(1400))


def test_one_period_allowed_keeps_only_the_spread():
    periods = needs_periods(
        energy_wh=Decimal(20_000),
        departure=NOW + 4 * HOUR,
        now=NOW,
        max_w=Decimal(11_000),
        max_periods=1,
    )
    assert periods == [(0, Decimal(5000))]


@given(
    energy=st.integers(min_value=0, max_value=200_000),
    seconds=st.integers(min_value=-3600, max_value=3 * 24 * 3600),
    max_w=st.integers(min_value=0, max_value=350_000),
    min_w=st.none() | st.integers(min_value=0, max_value=20_000),
    max_periods=st.integers(min_value=1, max_value=5),
)
def test_never_above_the_limits_and_the_energy_by_departure_when_feasible(
    energy, seconds, max_w, min_w, max_periods
):
    """Property: every limit lies in [0, max_w]; at most ``max_periods`` periods, starting
    at 0 and increasing; whenever max_w can deliver the energy in the time left, the schedule
    lets it through by the departure; when it cannot, the whole schedule is full power."""
    periods = needs_periods(
        energy_wh=Decimal(energy),
        departure=NOW + dt.timedelta(seconds=seconds),
        now=NOW,
        max_w=Decimal(max_w),
        min_w=None if min_w is None else Decimal(min_w),
        max_periods=max_periods,
    )
    assert 1 <= len(periods) <= max_periods
    assert periods[0][0] == 0
    assert [s for s, _ in periods] == sorted({s for s, _ in periods})
    assert all(0 <= w <= max_w for _, w in periods)
    if seconds > 0 and max_w * seconds >= energy * 3600:
        assert delivered_wh(periods, seconds) >= energy
    elif seconds > 0:
        assert periods == [(0, Decimal(max_w))]


# -- the profile ---------------------------------------------------------------------------------


def test_the_needs_profile_is_departure_shaped_and_schema_valid():
    """K15.FR.07 / K17.FR.07: one chargingSchedule, within the EV's 11 kW and the station's
    9 kW, shaped by the EV's energy (20 kWh) and departure (4 h); 2.1 and 2.0.1."""
    ev = attrs.evolve(CHARGE_EV, energy_request_wh=Decimal(20_000), departure_time=NOW + 4 * HOUR)
    for version in (Version.V21, Version.V201):
        request = charging_profile_for_needs(
            capability=ev,
            transaction_id="tx-1",
            version=version,
            now=NOW,
            v2x=False,
            station_max_w=Decimal(9000),
        )
        validate_payload(version, "SetChargingProfile", Direction.REQUEST, request)
        (schedule,) = request["chargingProfile"]["chargingSchedule"]
        limits = [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]]
        assert limits == [(0, 5000), (14_400, 9000)]
        modes = {p.get("operationMode") for p in schedule["chargingSchedulePeriod"]}
        assert modes == ({"ChargingOnly"} if version is Version.V21 else {None})


def test_the_needs_profile_uses_the_owners_departure_in_the_operators_zone():
    """Without the EV's departure: the owner's 20:00 (Sao Paulo) is 1 h 30 after NOW, and
    their 8 kWh lacking (50 kWh wanted, 42 kWh held) spread over it is 5334 W."""
    prefs = attrs.evolve(
        OPTED_IN, departure_energy_wh=Decimal(50_000), departure_time=dt.time(20, 0)
    )
    request = charging_profile_for_needs(
        capability=CHARGE_EV,
        transaction_id="tx-1",
        version=Version.V21,
        now=NOW,
        v2x=False,
        preferences=prefs,
        tz=SP,
    )
    (schedule,) = request["chargingProfile"]["chargingSchedule"]
    assert [p["limit"] for p in schedule["chargingSchedulePeriod"]] == [5334, 11000]
    assert schedule["chargingSchedulePeriod"][1]["startPeriod"] == 5400


def test_the_evs_max_schedule_tuples_bounds_the_periods():
    ev = attrs.evolve(
        CHARGE_EV,
        energy_request_wh=Decimal(20_000),
        departure_time=NOW + 4 * HOUR,
        max_schedule_tuples=1,
    )
    request = charging_profile_for_needs(
        capability=ev, transaction_id="tx-1", version=Version.V21, now=NOW, v2x=False
    )
    (schedule,) = request["chargingProfile"]["chargingSchedule"]
    assert len(schedule["chargingSchedulePeriod"]) == 1
    request = charging_profile_for_needs(
        capability=attrs.evolve(ev, max_schedule_tuples=None),
        transaction_id="tx-1",
        version=Version.V21,
        now=NOW,
        v2x=False,
        station_periods=1,
    )
    (schedule,) = request["chargingProfile"]["chargingSchedule"]
    assert len(schedule["chargingSchedulePeriod"]) == 1


def test_the_evs_schedule_is_checked_against_the_departure_shape():
    """K15.FR.11/12 (TC_K_55) against the two periods: an EV schedule at the spread until the
    departure and full power after it is Accepted; full power from the start is Rejected,
    with one renegotiation (K15.FR.13)."""
    ev = attrs.evolve(CHARGE_EV, energy_request_wh=Decimal(20_000), departure_time=NOW + 4 * HOUR)
    sent = charging_profile_for_needs(
        capability=ev, transaction_id="tx-1", version=Version.V21, now=NOW, v2x=False
    )

    def ev_schedule(*periods: tuple[int, int]) -> dict:
        request = {
            "timeBase": "2026-03-02T21:30:00Z",
            "evseId": 1,
            "chargingSchedule": {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": w} for s, w in periods],
            },
        }
        validate_payload(Version.V21, "NotifyEVChargingSchedule", Direction.REQUEST, request)
        return request

    following = ev_schedule((0, 5000), (4 * 3600, 11_000))
    assert schedule_decision(following, sent) == ScheduleDecision("Accepted", renegotiate=False)
    eager = ev_schedule((0, 11_000))
    assert schedule_decision(eager, sent) == ScheduleDecision("Rejected", renegotiate=True)
    early = ev_schedule((0, 5000), (3600, 11_000))  # full power three hours early
    assert schedule_decision(early, sent).status == "Rejected"
