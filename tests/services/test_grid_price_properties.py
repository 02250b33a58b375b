"""Properties of the posts and of the best discharge hours over random days and forecasts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from csms.services.bandeiras import BandeiraCalendar
from csms.services.br_calendar import HolidayCalendar
from csms.services.pld import PldPrice, PldTable, Submarket
from csms.services.price_forecast import best_discharge_hours, forecast
from csms.services.retail_price import GridMarket, PldSource, TaxRates, value_rs
from csms.services.tarifa_branca import DISTRIBUTORS, Post, post_at

SP = ZoneInfo("America/Sao_Paulo")
CALENDAR = HolidayCalendar()
MINUTE = dt.timedelta(minutes=1)


@settings(max_examples=25, deadline=None)
@given(
    day=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)),
    code=st.sampled_from(sorted(DISTRIBUTORS)),
)
def test_a_day_has_three_hours_of_ponta_and_two_of_intermediario_only_when_working(day, code):
    tariff = DISTRIBUTORS[code]
    midnight = dt.datetime.combine(day, dt.time(), SP).astimezone(dt.UTC)
    posts = [post_at(tariff, midnight + i * MINUTE, SP, CALENDAR) for i in range(24 * 60)]
    counts = {post: posts.count(post) for post in Post}
    if CALENDAR.is_working_day(day):
        assert counts == {Post.PONTA: 180, Post.INTERMEDIARIO: 120, Post.FORA_PONTA: 1140}
        first = posts.index(Post.PONTA)
        assert posts[first : first + 180] == [Post.PONTA] * 180  # consecutive
        assert posts[first - 60 : first] == [Post.INTERMEDIARIO] * 60
        assert posts[first + 180 : first + 240] == [Post.INTERMEDIARIO] * 60
    else:
        assert counts[Post.FORA_PONTA] == 24 * 60


START = dt.datetime(2026, 6, 10, 3, tzinfo=dt.UTC)  # local midnight


@settings(max_examples=200, deadline=None)
@given(
    plds=st.lists(st.integers(58, 1600), min_size=24, max_size=24),
    window=st.tuples(st.integers(0, 24), st.integers(0, 24)).map(sorted),
    power=st.integers(1, 22_000),
    energy=st.integers(1, 200_000),
)
def test_best_hours_fill_the_dearest_whole_hours_within_power_and_window(
    plds, window, power, energy
):
    hours_pld = [
        PldPrice(Submarket.SE, START + dt.timedelta(hours=h), Decimal(v), "ccee")
        for h, v in enumerate(plds)
    ]
    taxes = TaxRates(Decimal("0.18"), Decimal("0.0165"), Decimal("0.076"))
    market = GridMarket(
        SP, DISTRIBUTORS["cemig"], BandeiraCalendar(), taxes, Submarket.SE, PldTable.of(hours_pld)
    )
    hours = forecast(market, PldSource(Decimal(10)), START, 24)
    start, end = (START + dt.timedelta(hours=w) for w in window)
    plan = best_discharge_hours(hours, start, end, Decimal(power), Decimal(energy))
    chosen = {h.start for h in plan.hours}
    assert len(chosen) == len(plan.hours)
    assert [h.start for h in plan.hours] == sorted(chosen)
    assert all(start <= h.start and h.end <= end for h in plan.hours)
    assert all(0 < h.energy_wh <= power for h in plan.hours)
    assert plan.energy_wh + plan.shortfall_wh == energy
    assert sum(h.energy_wh for h in plan.hours) == plan.energy_wh
    assert plan.shortfall_wh == 0 or len(plan.hours) == window[1] - window[0]
    left_out = [
        h.retail_rs_per_kwh
        for h in hours
        if start <= h.start and h.end <= end and h.start not in chosen
    ]
    if plan.hours and left_out:
        assert min(h.retail_rs_per_kwh for h in plan.hours) >= max(left_out)
    exact = sum((h.energy_wh / 1000 * h.retail_rs_per_kwh for h in plan.hours), Decimal(0))
    assert plan.value_rs == value_rs(exact, Decimal(1))
    assert not plan.simulated
