"""The V2G optimizer's planner by example (SPEC section 6): prices from the shipped
Tarifa Branca (CEMIG, ponta 17-20h) through the same book the prices actor answers from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from csms.services.grid_price_book import GridPriceBook, MarketQuery
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.services.v2g_optimizer import EVState, Planner, PriceHour, plan_fleet, price_hours
from csms.services.v2g_preferences import DischargeWindow, V2GPreferences

from .v2g_examples import SP

BOOK = GridPriceBook(parse_grid_price_settings({}), SP)
# Tuesday 3 March 2026, 16:10 in Sao Paulo (a working day): before the ponta (17:00-20:00)
BEFORE_PONTA = dt.datetime(2026, 3, 3, 19, 10, tzinfo=dt.UTC)
PONTA = (dt.datetime(2026, 3, 3, 20, tzinfo=dt.UTC), dt.datetime(2026, 3, 3, 23, tzinfo=dt.UTC))
EV = EVState(
    station_id="CP1",
    evse_id=1,
    user_id="u1",
    soc_percent=Decimal(65),
    battery_wh=Decimal(60000),
    max_discharge_w=Decimal(11000),
)
PREFS = V2GPreferences(
    user_id="u1", opt_in=True, min_soc_percent=Decimal(30), max_discharge_w=Decimal(7000)
)


def forecast(now: dt.datetime = BEFORE_PONTA) -> tuple[PriceHour, ...]:
    return price_hours(BOOK.forecast(MarketQuery(), now, 24))


def plan(ev: EVState = EV, prefs: V2GPreferences = PREFS, now: dt.datetime = BEFORE_PONTA):
    (result,) = plan_fleet([(ev, prefs)], forecast(now), now, SP)
    return result


def test_an_ev_plugged_in_before_the_ponta_discharges_in_the_ponta_hours():
    result = plan()
    # 21 kWh above the floor: what the ponta takes at the owner's 7 kW
    assert [(i.start, i.end, i.power_w) for i in result.intervals] == [(*PONTA, Decimal(7000))]
    assert result.energy_wh == Decimal(21000)
    assert result.reason is None
    assert result.due(BEFORE_PONTA) is None
    assert result.due(PONTA[0]).power_w == Decimal(7000)
    assert result.sessions() == [PONTA]
    assert result.value_rs > 0


def test_energy_beyond_the_ponta_goes_to_the_intermediario_hours_next():
    result = plan(attrs.evolve(EV, soc_percent=Decimal(100)))  # 42 kWh above the floor
    starts = [i.start.astimezone(SP).hour for i in result.intervals]
    # one session 16:10-21:00: the intermediario hour on each side of the ponta
    assert result.sessions() == [(BEFORE_PONTA, dt.datetime(2026, 3, 4, 0, tzinfo=dt.UTC))]
    assert starts == [16]
    assert result.energy_wh == Decimal(7000) * Decimal(290) / 60


def test_the_cheapest_hour_chosen_takes_what_is_left_below_full_power():
    result = plan(attrs.evolve(EV, soc_percent=Decimal(40)))  # 6 kWh above the floor
    assert [(i.start, i.end, i.power_w) for i in result.intervals] == [
        (PONTA[0], PONTA[0] + dt.timedelta(hours=1), Decimal(6000))
    ]


def test_the_floor_and_the_departure_energy_bound_the_energy():
    at_floor = plan(attrs.evolve(EV, soc_percent=Decimal(30)))
    assert (at_floor.intervals, at_floor.reason) == ((), "at_floor")
    # 65 % of 60 kWh is 39 kWh; 31 kWh wanted at departure leaves 8 kWh to give
    departing = plan(prefs=attrs.evolve(PREFS, departure_energy_wh=Decimal(31000)))
    assert departing.energy_wh == Decimal(8000)
    gone = plan(prefs=attrs.evolve(PREFS, departure_energy_wh=Decimal(39000)))
    assert (gone.intervals, gone.reason) == ((), "departure_energy")


def test_an_ev_without_a_known_battery_gives_only_the_energy_it_offers():
    unknown = attrs.evolve(EV, battery_wh=None)
    assert plan(unknown).reason == "battery_unknown"
    offered = plan(attrs.evolve(unknown, v2x_energy_wh=Decimal(3500)))
    assert (offered.energy_wh, offered.intervals[0].power_w) == (Decimal(3500), Decimal(3500))
    # the energy left at departure cannot be known without the battery's size
    with_need = plan(
        attrs.evolve(unknown, v2x_energy_wh=Decimal(3500)),
        attrs.evolve(PREFS, departure_energy_wh=Decimal(10000)),
    )
    assert with_need.reason == "battery_unknown"


def test_departure_cuts_the_plan():
    leaves = dt.time(18, 30)  # local: the ponta's last 1.5 hours are gone, the
    result = plan(prefs=attrs.evolve(PREFS, departure_time=leaves))  # intermediario before it
    assert result.sessions() == [(BEFORE_PONTA, dt.datetime(2026, 3, 3, 21, 30, tzinfo=dt.UTC))]
    soon = BEFORE_PONTA + dt.timedelta(minutes=20)  # the EV's own departure, if sooner
    assert plan(attrs.evolve(EV, departure=soon)).sessions() == [(BEFORE_PONTA, soon)]
    assert plan(attrs.evolve(EV, departure=BEFORE_PONTA)).reason == "no_hours"


def test_windows_bound_the_plan():
    window = DischargeWindow(frozenset({1}), dt.time(18), dt.time(19))  # Tuesday 18-19h
    result = plan(prefs=attrs.evolve(PREFS, windows=(window,)))
    hour = (dt.datetime(2026, 3, 3, 21, tzinfo=dt.UTC), dt.datetime(2026, 3, 3, 22, tzinfo=dt.UTC))
    assert result.sessions() == [hour]


def test_cycles_per_day_bound_the_sessions():
    # two windows apart: two sessions, one cycle allowed per day, one used already
    windows = (
        DischargeWindow(frozenset({1}), dt.time(17), dt.time(18)),
        DischargeWindow(frozenset({1}), dt.time(19), dt.time(20)),
    )
    prefs = attrs.evolve(PREFS, windows=windows, max_cycles_per_day=2)
    assert len(plan(prefs=prefs).sessions()) == 2
    assert len(plan(prefs=attrs.evolve(prefs, max_cycles_per_day=1)).sessions()) == 1
    used = plan(attrs.evolve(EV, cycles_today=2), prefs)
    assert (used.intervals, used.reason) == ((), "no_hours")
    # a session running now goes on without a new cycle
    now = PONTA[0] + dt.timedelta(minutes=20)
    running = plan(attrs.evolve(EV, cycles_today=2, discharging=True), prefs, now)
    assert running.sessions() == [(now, PONTA[0] + dt.timedelta(hours=1))]


def test_nothing_is_planned_for_an_ev_that_cannot_or_may_not_discharge():
    assert plan(prefs=attrs.evolve(PREFS, opt_in=False)).reason == "not_opted_in"
    assert plan(attrs.evolve(EV, capable=False)).reason == "not_capable"
    assert plan(attrs.evolve(EV, soc_percent=None)).reason == "soc_unknown"
    slow = attrs.evolve(EV, min_discharge_w=Decimal(8000))
    assert plan(slow).reason == "no_power"


def test_a_flat_day_is_not_worth_discharging():
    now = dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC)  # a Saturday: fora ponta all day
    assert plan(now=now).reason == "no_hours"
    planner = Planner(forecast(), BEFORE_PONTA, SP, min_spread_rs_per_kwh=Decimal(100))
    assert planner.plan(EV, PREFS).reason == "no_hours"


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        Planner(forecast(), BEFORE_PONTA.replace(tzinfo=None), SP)
