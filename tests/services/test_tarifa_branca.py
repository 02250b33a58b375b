"""Tarifa Branca posts at the boundaries, in the operator's time zone (REN 1000)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csms.services.br_calendar import HolidayCalendar
from csms.services.tarifa_branca import DISTRIBUTORS, DistributorTariff, Post, post_at

SP = ZoneInfo("America/Sao_Paulo")
MANAUS = ZoneInfo("America/Manaus")
CALENDAR = HolidayCalendar()
P, M, F = Post.PONTA, Post.INTERMEDIARIO, Post.FORA_PONTA


def local(day: dt.date, hhmm: str, tz: ZoneInfo = SP) -> dt.datetime:
    """A local wall time as the UTC instant a caller would pass in."""
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tz).astimezone(dt.UTC)


WEDNESDAY = dt.date(2026, 6, 10)


@pytest.mark.parametrize(
    ("hhmm", "post"),
    [("00:00", F), ("15:59", F), ("16:00", M), ("16:59", M), ("17:00", P), ("19:59", P),
     ("20:00", M), ("20:59", M), ("21:00", F), ("23:59", F)],
)  # fmt: skip
def test_cemig_17_to_20(hhmm, post):
    assert post_at(DISTRIBUTORS["cemig"], local(WEDNESDAY, hhmm), SP, CALENDAR) is post


@pytest.mark.parametrize(
    ("hhmm", "post"),
    [("16:29", F), ("16:30", M), ("16:59", M), ("17:00", M), ("17:29", M), ("17:30", P),
     ("19:59", P), ("20:00", P), ("20:29", P), ("20:30", M), ("20:59", M), ("21:00", M),
     ("21:29", M), ("21:30", F)],
)  # fmt: skip
def test_light_half_hour_17_30_to_20_30(hhmm, post):
    for code in ("light", "enel_sp"):
        assert post_at(DISTRIBUTORS[code], local(WEDNESDAY, hhmm), SP, CALENDAR) is post


def test_the_post_is_read_in_the_operator_time_zone_not_utc():
    """17:00 in São Paulo is 20:00 UTC: ponta; 17:00 UTC is 14:00 local: fora ponta."""
    cemig = DISTRIBUTORS["cemig"]
    assert post_at(cemig, dt.datetime(2026, 6, 10, 20, 0, tzinfo=dt.UTC), SP, CALENDAR) is P
    assert post_at(cemig, dt.datetime(2026, 6, 10, 17, 0, tzinfo=dt.UTC), SP, CALENDAR) is F
    # An offset other than UTC is the same instant.
    brt = dt.timezone(dt.timedelta(hours=-3))
    assert post_at(cemig, dt.datetime(2026, 6, 10, 17, 0, tzinfo=brt), SP, CALENDAR) is P


def test_amazonas_in_manaus_time():
    amazonas = DISTRIBUTORS["amazonas"]
    assert post_at(amazonas, local(WEDNESDAY, "19:59", MANAUS), MANAUS, CALENDAR) is M
    assert post_at(amazonas, local(WEDNESDAY, "20:00", MANAUS), MANAUS, CALENDAR) is P
    assert post_at(amazonas, local(WEDNESDAY, "22:59", MANAUS), MANAUS, CALENDAR) is P
    assert post_at(amazonas, local(WEDNESDAY, "23:00", MANAUS), MANAUS, CALENDAR) is M
    assert (
        post_at(
            amazonas, local(WEDNESDAY + dt.timedelta(days=1), "00:00", MANAUS), MANAUS, CALENDAR
        )
        is F
    )


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (dt.date(2026, 6, 13), "Saturday"),
        (dt.date(2026, 6, 14), "Sunday"),
        (dt.date(2026, 9, 7), "Independence Day (Monday)"),
        (dt.date(2026, 2, 17), "Carnival Tuesday"),
        (dt.date(2026, 4, 3), "Good Friday"),
        (dt.date(2026, 6, 4), "Corpus Christi"),
        (dt.date(2026, 11, 20), "20 Nov (on by default)"),
    ],
)
def test_weekends_and_holidays_are_fora_ponta_all_day(day, name):
    for code in ("cemig", "light"):
        for hhmm in ("16:30", "17:00", "18:00", "19:59", "20:30"):
            assert post_at(DISTRIBUTORS[code], local(day, hhmm), SP, CALENDAR) is F, name


def test_carnival_monday_is_a_working_day():
    monday = dt.date(2026, 2, 16)
    assert post_at(DISTRIBUTORS["cemig"], local(monday, "18:00"), SP, CALENDAR) is P
    assert post_at(DISTRIBUTORS["cemig"], local(monday, "16:00"), SP, CALENDAR) is M


def test_black_consciousness_day_off_makes_20_nov_a_working_day():
    calendar = HolidayCalendar(black_consciousness_day=False)
    assert post_at(DISTRIBUTORS["cemig"], local(dt.date(2026, 11, 20), "18:00"), SP, calendar) is P


def test_shipped_table_windows():
    starts = {code: t.ponta_start for code, t in DISTRIBUTORS.items()}
    assert starts == {
        "cemig": dt.time(17),
        "light": dt.time(17, 30),
        "enel_sp": dt.time(17, 30),
        "enel_rj": dt.time(18),
        "cpfl_paulista": dt.time(18),
        "equatorial_ma": dt.time(18),
        "amazonas": dt.time(20),
    }
    assert DISTRIBUTORS["light"].ponta_end == dt.time(20, 30)
    assert DISTRIBUTORS["amazonas"].ponta_end == dt.time(23)


def test_price_per_post():
    tariff = DistributorTariff(
        "x", "X", dt.time(18), Decimal("1.5"), Decimal("0.9"), Decimal("0.6")
    )
    assert [tariff.price(p) for p in (P, M, F)] == [Decimal("1.5"), Decimal("0.9"), Decimal("0.6")]


@pytest.mark.parametrize(
    "start", [dt.time(0, 30), dt.time(20, 30), dt.time(17, 15), dt.time(17, 0, 1)]
)
def test_a_ponta_that_does_not_fit_a_day_or_the_half_hour_is_refused(start):
    with pytest.raises(ValueError, match="ponta_start"):
        DistributorTariff("x", "X", start, Decimal(1), Decimal(1), Decimal(1))


def test_a_negative_price_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        DistributorTariff("x", "X", dt.time(18), Decimal(-1), Decimal(1), Decimal(1))


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        post_at(DISTRIBUTORS["cemig"], dt.datetime(2026, 6, 10, 18), SP, CALENDAR)
