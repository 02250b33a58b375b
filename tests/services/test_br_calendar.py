"""The holidays of ANEEL's Tarifa Branca rule (REN 1000): fixed, movable from Easter, 20 Nov."""

from __future__ import annotations

import datetime as dt

import pytest

from csms.services.br_calendar import (
    HolidayCalendar,
    carnival_tuesday,
    corpus_christi,
    easter_sunday,
    good_friday,
)

D = dt.date

# year: (Easter Sunday, Carnival Tuesday, Good Friday, Corpus Christi), from published calendars.
MOVABLE = {
    2024: (D(2024, 3, 31), D(2024, 2, 13), D(2024, 3, 29), D(2024, 5, 30)),
    2025: (D(2025, 4, 20), D(2025, 3, 4), D(2025, 4, 18), D(2025, 6, 19)),
    2026: (D(2026, 4, 5), D(2026, 2, 17), D(2026, 4, 3), D(2026, 6, 4)),
    2027: (D(2027, 3, 28), D(2027, 2, 9), D(2027, 3, 26), D(2027, 5, 27)),
    2028: (D(2028, 4, 16), D(2028, 2, 29), D(2028, 4, 14), D(2028, 6, 15)),
    2029: (D(2029, 4, 1), D(2029, 2, 13), D(2029, 3, 30), D(2029, 5, 31)),
    2030: (D(2030, 4, 21), D(2030, 3, 5), D(2030, 4, 19), D(2030, 6, 20)),
}


@pytest.mark.parametrize("year", sorted(MOVABLE))
def test_movable_holidays_from_easter(year):
    easter, carnival, friday, corpus = MOVABLE[year]
    assert easter_sunday(year) == easter
    assert carnival_tuesday(year) == carnival
    assert good_friday(year) == friday
    assert corpus_christi(year) == corpus
    assert (carnival.weekday(), friday.weekday(), corpus.weekday()) == (1, 4, 3)
    holidays = HolidayCalendar().holidays(year)
    assert {carnival, friday, corpus} <= holidays
    assert easter not in holidays or easter == D(year, 4, 21)  # Easter is a Sunday anyway


@pytest.mark.parametrize("year", sorted(MOVABLE))
def test_carnival_monday_is_a_working_day_and_tuesday_is_not(year):
    tuesday = carnival_tuesday(year)
    calendar = HolidayCalendar()
    assert calendar.is_working_day(tuesday - dt.timedelta(days=1))
    assert not calendar.is_working_day(tuesday)
    assert calendar.is_working_day(tuesday + dt.timedelta(days=1))  # Ash Wednesday works


def test_fixed_national_holidays():
    fixed = {
        D(2026, m, d)
        for m, d in [(1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (12, 25)]
    }
    holidays = HolidayCalendar().holidays(2026)
    assert fixed <= holidays
    assert len(holidays) == len(fixed) + 3 + 1  # movable three and 20 Nov


def test_black_consciousness_day_is_a_setting_on_by_default():
    """20 Nov (Lei 14.759/2023): a holiday unless the operator turns it off."""
    friday = D(2026, 11, 20)
    assert friday.weekday() == 4
    assert HolidayCalendar().is_holiday(friday)
    assert not HolidayCalendar().is_working_day(friday)
    off = HolidayCalendar(black_consciousness_day=False)
    assert not off.is_holiday(friday)
    assert off.is_working_day(friday)


def test_weekends_are_not_working_days_and_ordinary_weekdays_are():
    calendar = HolidayCalendar()
    assert not calendar.is_working_day(D(2026, 6, 6))  # Saturday
    assert not calendar.is_working_day(D(2026, 6, 7))  # Sunday
    assert calendar.is_working_day(D(2026, 6, 8))  # Monday
    assert not calendar.is_holiday(D(2026, 6, 6))
