"""Property test of the V2G optimizer's planner (SPEC section 6): for random forecasts,
preferences and EV states, no plan

- goes below the SoC floor, or leaves less than the energy needed by departure;
- exceeds the owner's or the EV's maximum power (or runs below the EV's minimum);
- leaves the owner's windows, or runs past departure or outside the forecast;
- starts more sessions (contiguous intervals) on a local day than the cycles left;

and an EV that may not discharge (not opted in, not capable, SoC unknown or at the floor) gets
none. Checked from the plan alone, with the preferences' own window functions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.services.v2g_optimizer import EVState, PriceHour, plan_fleet
from csms.services.v2g_preferences import (
    DischargeWindow,
    V2GPreferences,
    window_allows,
    window_end,
)

from .v2g_examples import SP

TOLERANCE = Decimal("1e-9")  # Wh: the decimal division of a partial hour's power
T0 = dt.datetime(2026, 3, 2, 3, tzinfo=dt.UTC)  # Monday 00:00 in Sao Paulo

times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
mostly = st.sampled_from([True] * 7 + [False])  # the first is the likelier


def often(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """``strategy``'s values three times in four, else None."""
    return st.sampled_from([0, 1, 2, 3]).flatmap(lambda i: strategy if i < 3 else st.none())


windows = st.builds(DischargeWindow, st.frozensets(st.integers(0, 6), min_size=1), times, times)


@st.composite
def forecasts(draw) -> tuple[dt.datetime, tuple[PriceHour, ...]]:
    first = T0 + dt.timedelta(hours=draw(st.integers(0, 24 * 7)))
    prices = draw(st.lists(st.integers(0, 300), min_size=1, max_size=30))
    hours = tuple(
        PriceHour(
            first + dt.timedelta(hours=i), first + dt.timedelta(hours=i + 1), p / Decimal(100)
        )
        for i, p in enumerate(prices)
    )
    now = first + dt.timedelta(
        seconds=draw(st.integers(0, 3599)), microseconds=draw(st.integers(0, 999999))
    )
    return now, hours


@st.composite
def preferences(draw) -> V2GPreferences:
    return V2GPreferences(
        user_id="u1",
        opt_in=draw(mostly),
        min_soc_percent=Decimal(draw(st.integers(10, 60) | st.integers(10, 100))),
        max_discharge_w=Decimal(draw(st.integers(1, 50000))),
        windows=tuple(draw(st.lists(windows, max_size=3))),
        max_cycles_per_day=draw(st.integers(1, 4)),
        departure_energy_wh=draw(st.none() | st.integers(1, 80000).map(Decimal)),
        departure_time=draw(st.none() | times),
    )


@st.composite
def ev_states(draw, now: dt.datetime) -> EVState:
    return EVState(
        station_id="CP1",
        evse_id=1,
        user_id="u1",
        soc_percent=draw(often(st.integers(0, 100).map(lambda n: Decimal(100 - n)))),
        battery_wh=draw(often(st.integers(5000, 100000).map(Decimal))),
        max_discharge_w=draw(st.none() | st.integers(0, 50000).map(Decimal)),
        min_discharge_w=Decimal(draw(st.just(0) | st.integers(0, 5000))),
        v2x_energy_wh=draw(st.none() | st.integers(-5000, 60000).map(Decimal)),
        capable=draw(mostly),
        cycles_today=draw(st.integers(0, 4)),
        discharging=draw(st.booleans()),
        departure=draw(
            st.none() | st.integers(0, 30 * 60).map(lambda m: now + dt.timedelta(minutes=m))
        ),
    )


def _next_departure(clock: dt.time, now: dt.datetime) -> dt.datetime:
    local = now.astimezone(SP)
    at = dt.datetime.combine(local.date(), clock, tzinfo=SP)
    if at <= now:
        at = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=SP)
    return at.astimezone(dt.UTC)


@settings(max_examples=600, deadline=None)
@given(data=st.data(), forecast=forecasts(), spread=st.integers(0, 50))
def test_no_plan_breaks_a_preference(data, forecast, spread):
    now, hours = forecast
    prefs = data.draw(preferences())
    ev = data.draw(ev_states(now))
    (plan,) = plan_fleet([(ev, prefs)], hours, now, SP, min_spread_rs_per_kwh=spread / Decimal(100))
    intervals = plan.intervals
    if not intervals:
        return
    soc = ev.soc_percent
    assert prefs.opt_in
    assert ev.capable
    assert soc is not None
    assert soc > prefs.min_soc_percent
    # energy: the floor, the departure need, what the EV offers
    energy = sum((i.energy_wh for i in intervals), Decimal(0))
    assert energy == plan.energy_wh
    if ev.battery_wh is not None:
        left = soc * ev.battery_wh / 100 - energy
        assert left >= prefs.min_soc_percent * ev.battery_wh / 100 - TOLERANCE
        if prefs.departure_energy_wh is not None:
            assert left >= prefs.departure_energy_wh - TOLERANCE
    else:
        assert prefs.departure_energy_wh is None
        assert ev.v2x_energy_wh is not None
    if ev.v2x_energy_wh is not None:
        assert energy <= ev.v2x_energy_wh + TOLERANCE
    # power
    cap = (
        prefs.max_discharge_w
        if ev.max_discharge_w is None
        else min(prefs.max_discharge_w, ev.max_discharge_w)
    )
    leaves = [d for d in (ev.departure,) if d is not None]
    if prefs.departure_time is not None:
        leaves.append(_next_departure(prefs.departure_time, now))
    previous_end = now
    for i in intervals:
        assert 0 < i.power_w <= cap
        assert i.power_w >= ev.min_discharge_w
        seconds = Decimal((i.end - i.start) // dt.timedelta(microseconds=1)) / 10**6
        assert abs(i.energy_wh - i.power_w * seconds / 3600) <= TOLERANCE
        # time: after now and the one before, inside the forecast, the windows, before departure
        assert previous_end <= i.start < i.end <= hours[-1].end
        previous_end = i.end
        assert all(i.end <= d for d in leaves)
        assert window_allows(prefs.windows, i.start, SP)
        stretch_end = window_end(prefs.windows, i.start, SP)
        assert stretch_end is None or i.end <= stretch_end
    # cycles: each session counts on the local day it starts; going on with the running one
    # is no new cycle
    today = now.astimezone(SP).date()
    per_day: dict[dt.date, int] = {}
    for start, _ in plan.sessions():
        if ev.discharging and start == now:
            continue
        day = start.astimezone(SP).date()
        per_day[day] = per_day.get(day, 0) + 1
    for day, n in per_day.items():
        assert n <= prefs.max_cycles_per_day - (ev.cycles_today if day == today else 0)
