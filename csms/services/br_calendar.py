"""The national holidays that make a day fora ponta all day under ANEEL's Tarifa Branca (pure).

ANEEL's rule (REN 1000, art. 2) lists the days on which the ponta and intermediário posts do
not apply: Saturdays, Sundays and these national holidays:

- fixed: 1 Jan, 21 Apr (Tiradentes), 1 May, 7 Sep, 12 Oct, 2 Nov, 15 Nov, 25 Dec;
- movable, from Easter: Carnival **Tuesday** (the rule names the Tuesday only, so Carnival Monday
  is a working day for the tariff), Good Friday and Corpus Christi;
- 20 Nov (Dia Nacional de Zumbi e da Consciência Negra), a national holiday since Lei 14.759/2023
  but later than the list in the tariff rule: a setting (``black_consciousness_day``), on by
  default; an operator whose distributor still bills 20 Nov as a working day turns it off.

State and municipal holidays are not in the rule and are not here.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final

import attrs

__all__ = [
    "FIXED_HOLIDAYS",
    "HolidayCalendar",
    "carnival_tuesday",
    "corpus_christi",
    "easter_sunday",
    "good_friday",
]

#: (month, day) of the fixed national holidays of the tariff rule.
FIXED_HOLIDAYS: Final = ((1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (12, 25))
BLACK_CONSCIOUSNESS_DAY: Final = (11, 20)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def carnival_tuesday(year: int) -> dt.date:
    """47 days before Easter Sunday (the day before Ash Wednesday)."""
    return easter_sunday(year) - dt.timedelta(days=47)


def good_friday(year: int) -> dt.date:
    return easter_sunday(year) - dt.timedelta(days=2)


def corpus_christi(year: int) -> dt.date:
    """The Thursday 60 days after Easter Sunday."""
    return easter_sunday(year) + dt.timedelta(days=60)


@functools.lru_cache(
    maxsize=64
)  # asked once per priced hour: the forecast and the planner ask often
def _holidays(year: int, black_consciousness_day: bool) -> frozenset[dt.date]:
    fixed = list(FIXED_HOLIDAYS)
    if black_consciousness_day:
        fixed.append(BLACK_CONSCIOUSNESS_DAY)
    movable = (carnival_tuesday(year), good_friday(year), corpus_christi(year))
    return frozenset(dt.date(year, m, d) for m, d in fixed) | frozenset(movable)


@attrs.frozen
class HolidayCalendar:
    """The tariff's holidays; ``black_consciousness_day`` adds 20 Nov (on by default)."""

    black_consciousness_day: bool = True

    def holidays(self, year: int) -> frozenset[dt.date]:
        return _holidays(year, self.black_consciousness_day)

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.holidays(day.year)

    def is_working_day(self, day: dt.date) -> bool:
        """Monday to Friday and not a holiday of the rule: the days with ponta and intermediário."""
        return day.weekday() < 5 and not self.is_holiday(day)
