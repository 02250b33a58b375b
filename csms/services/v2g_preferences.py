"""An EV owner's V2G preferences and the operator-local discharge windows (pure).

The REST shape (``POST /api/v1/v2g/preferences``, docs/V2G.md "Preferences")::

    {"userId": "u1", "optIn": true, "minSocPercent": 30, "maxDischargeKw": 7.4,
     "windows": [{"days": ["Mon", "Fri"], "start": "18:00", "end": "21:00"}],
     "maxCyclesPerDay": 1, "departureEnergyKwh": 20, "departureTime": "07:30"}

is checked field by field: a bad value raises ``PreferenceError`` naming the field
(``windows[0].start``), which the API answers with 422. Units inside are the node's (SPEC
section 6): power in W, energy in Wh, SoC in percent, as ``Decimal``.

Windows are in the operator's local time (setting ``v2g.time_zone``, default
``America/Sao_Paulo``, an IANA name read with ``zoneinfo``). A window whose ``end`` is at or
before its ``start`` crosses midnight and belongs to its start day: ``Fri 22:00-06:00`` allows
Friday 22:00 to Saturday 06:00; ``start == end`` is a whole day from ``start``. No windows at
all means any time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._v2g_json import decimal_or_none, json_number

__all__ = [
    "DAY_NAMES",
    "DEFAULT_TIME_ZONE",
    "DischargeWindow",
    "PreferenceError",
    "V2GPreferences",
    "local_day_bounds",
    "next_window_start",
    "parse_preferences",
    "preferences_to_json",
    "time_zone",
    "window_allows",
    "window_end",
]

#: Day names as the REST API writes them; the index is ``datetime.weekday()`` (0 = Monday).
DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_TIME_ZONE: Final = "America/Sao_Paulo"

MIN_SOC_FLOOR: Final = Decimal(10)  # the preferences' range for the floor: 10-100 %
MAX_DISCHARGE_KW: Final = Decimal(1000)  # beyond any EV; a typo guard
MAX_DEPARTURE_KWH: Final = Decimal(1000)
MAX_CYCLES_PER_DAY: Final = 24

_HHMM: Final = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_FIELDS: Final = frozenset(
    {
        "userId",
        "optIn",
        "minSocPercent",
        "maxDischargeKw",
        "windows",
        "maxCyclesPerDay",
        "departureEnergyKwh",
        "departureTime",
    }
)


class PreferenceError(ValueError):
    """A preference field is missing or wrong; ``field`` is its JSON path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@attrs.frozen
class DischargeWindow:
    """Days of the week (0 = Monday) and a local start and end time."""

    days: frozenset[int]
    start: dt.time
    end: dt.time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def span_from(self, day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """The window's UTC interval when it starts on ``day`` (local)."""
        start = dt.datetime.combine(day, self.start, tzinfo=tz)
        end_day = day + dt.timedelta(days=1) if self.crosses_midnight else day
        end = dt.datetime.combine(end_day, self.end, tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def to_json(self) -> dict[str, Any]:
        return {
            "days": [DAY_NAMES[d] for d in sorted(self.days)],
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


@attrs.frozen
class V2GPreferences:
    """What the owner allows: opt-in, the SoC floor, the power cap, windows, cycles per day
    and the energy needed by departure (SPEC section 6)."""

    user_id: str
    opt_in: bool
    min_soc_percent: Decimal
    max_discharge_w: Decimal
    windows: tuple[DischargeWindow, ...] = ()
    max_cycles_per_day: int = 1
    departure_energy_wh: Decimal | None = None
    departure_time: dt.time | None = None


def time_zone(name: str) -> ZoneInfo:
    """The operator's zone by IANA name; ``ValueError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# -- parsing ---------------------------------------------------------------------------------


def _number(value: Any, field: str) -> Decimal:
    number = None if isinstance(value, str) else decimal_or_none(value)
    if number is None:
        raise PreferenceError(field, "must be a finite number")
    return number


def _ranged(value: Any, field: str, low: Decimal, high: Decimal, *, open_low: bool) -> Decimal:
    number = _number(value, field)
    if (number <= low if open_low else number < low) or number > high:
        bracket = "(" if open_low else "["
        raise PreferenceError(field, f"must be in {bracket}{low}, {high}]")
    return number


def _clock(value: Any, field: str) -> dt.time:
    if not isinstance(value, str) or _HHMM.fullmatch(value) is None:
        raise PreferenceError(field, "must be a local time HH:MM (00:00-23:59)")
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def _window(value: Any, field: str) -> DischargeWindow:
    if not isinstance(value, Mapping):
        raise PreferenceError(field, "must be an object {days, start, end}")
    unknown = sorted(set(value) - {"days", "start", "end"})
    if unknown:
        raise PreferenceError(f"{field}.{unknown[0]}", "unknown field")
    days = value.get("days")
    if not isinstance(days, list) or not days:
        raise PreferenceError(f"{field}.days", "must be a non-empty list of Mon..Sun")
    numbers: set[int] = set()
    for i, name in enumerate(days):
        if name not in DAY_NAMES:
            raise PreferenceError(f"{field}.days[{i}]", "must be one of " + ", ".join(DAY_NAMES))
        numbers.add(DAY_NAMES.index(name))
    for key in ("start", "end"):
        if key not in value:
            raise PreferenceError(f"{field}.{key}", "is required")
    return DischargeWindow(
        frozenset(numbers),
        _clock(value["start"], f"{field}.start"),
        _clock(value["end"], f"{field}.end"),
    )


def parse_preferences(data: Any) -> V2GPreferences:
    """The preferences of a REST body; ``PreferenceError`` names the first bad field.

    Required: ``userId``, ``optIn``, ``minSocPercent`` (10-100), ``maxDischargeKw`` (> 0).
    Optional: ``windows`` (default none: any time), ``maxCyclesPerDay`` (1-24, default 1),
    ``departureEnergyKwh`` (> 0) and ``departureTime`` (HH:MM), each may be null.
    """
    if not isinstance(data, Mapping):
        raise PreferenceError("body", "must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise PreferenceError(unknown[0], "unknown field")
    for key in ("userId", "optIn", "minSocPercent", "maxDischargeKw"):
        if data.get(key) is None:
            raise PreferenceError(key, "is required")
    user_id = data["userId"]
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 64:
        raise PreferenceError("userId", "must be a non-empty string of at most 64 characters")
    if not isinstance(data["optIn"], bool):
        raise PreferenceError("optIn", "must be true or false")
    floor = _ranged(
        data["minSocPercent"], "minSocPercent", MIN_SOC_FLOOR, Decimal(100), open_low=False
    )
    max_kw = _ranged(
        data["maxDischargeKw"], "maxDischargeKw", Decimal(0), MAX_DISCHARGE_KW, open_low=True
    )
    windows = data.get("windows")
    if windows is None:
        windows = []
    if not isinstance(windows, list):
        raise PreferenceError("windows", "must be a list")
    cycles = data.get("maxCyclesPerDay", 1)
    if cycles is None:
        cycles = 1
    if (
        isinstance(cycles, bool)
        or not isinstance(cycles, int)
        or not 1 <= cycles <= MAX_CYCLES_PER_DAY
    ):
        raise PreferenceError("maxCyclesPerDay", f"must be an integer in [1, {MAX_CYCLES_PER_DAY}]")
    energy = data.get("departureEnergyKwh")
    departure = data.get("departureTime")
    return V2GPreferences(
        user_id=user_id,
        opt_in=data["optIn"],
        min_soc_percent=floor,
        max_discharge_w=max_kw * 1000,
        windows=tuple(_window(w, f"windows[{i}]") for i, w in enumerate(windows)),
        max_cycles_per_day=cycles,
        departure_energy_wh=(
            None
            if energy is None
            else _ranged(energy, "departureEnergyKwh", Decimal(0), MAX_DEPARTURE_KWH, open_low=True)
            * 1000
        ),
        departure_time=None if departure is None else _clock(departure, "departureTime"),
    )


def preferences_to_json(prefs: V2GPreferences) -> dict[str, Any]:
    """The REST shape of ``prefs``; ``parse_preferences`` reads it back unchanged."""
    energy = prefs.departure_energy_wh
    return {
        "userId": prefs.user_id,
        "optIn": prefs.opt_in,
        "minSocPercent": json_number(prefs.min_soc_percent),
        "maxDischargeKw": json_number(prefs.max_discharge_w / 1000),
        "windows": [w.to_json() for w in prefs.windows],
        "maxCyclesPerDay": prefs.max_cycles_per_day,
        "departureEnergyKwh": None if energy is None else json_number(energy / 1000),
        "departureTime": (
            None if prefs.departure_time is None else prefs.departure_time.strftime("%H:%M")
        ),
    }


# -- windows in the operator's time zone -----------------------------------------------------


def _spans(
    windows: Iterable[DischargeWindow], around: dt.datetime, tz: dt.tzinfo, days: range
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every window occurrence starting on the local days ``around`` + ``days``, in UTC."""
    today = around.astimezone(tz).date()
    spans = []
    for offset in days:
        day = today + dt.timedelta(days=offset)
        for window in windows:
            if day.weekday() in window.days:
                spans.append(window.span_from(day, tz))
    return sorted(spans)


def _utc(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


def window_allows(windows: Iterable[DischargeWindow], now_utc: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether ``now_utc`` lies in one of the windows (start inclusive, end exclusive); no
    windows means any time."""
    windows = tuple(windows)
    if not windows:
        return True
    now = _utc(now_utc)
    # A window starting yesterday may cross midnight into today.
    return any(start <= now < end for start, end in _spans(windows, now, tz, range(-1, 1)))


def window_end(
    windows: Iterable[DischargeWindow], now_utc: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """When the allowed stretch containing ``now_utc`` ends (UTC), windows that touch or
    overlap chained together (``Mon 22:00-00:00`` and ``Tue 00:00-06:00`` end Tuesday 06:00).

    None when discharge is never cut off: no windows, or windows covering the whole week.
    ``now_utc`` itself when no window contains it (the stretch has already ended).
    """
    windows = tuple(windows)
    if not windows:
        return None
    now = _utc(now_utc)
    end = now
    # Eight days of occurrences cover a stretch of at most a week plus one crossing night.
    for start, stop in _spans(windows, now, tz, range(-1, 8)):
        if start <= end < stop:
            end = stop
    if end - now >= dt.timedelta(days=7):
        return None
    return end


def next_window_start(
    windows: Iterable[DischargeWindow], now_utc: dt.datetime, tz: dt.tzinfo
) -> dt.datetime | None:
    """When discharge is next allowed: ``now_utc`` when a window (or no window) allows it
    now, else the start of the next window within a week (UTC); None when none is ahead."""
    windows = tuple(windows)
    now = _utc(now_utc)
    if window_allows(windows, now, tz):
        return now
    starts = [start for start, _ in _spans(windows, now, tz, range(0, 8)) if start > now]
    return min(starts, default=None)


def local_day_bounds(now_utc: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The operator-local calendar day containing ``now_utc``, as a UTC interval
    [midnight, next midnight): what "cycles per day" counts in."""
    day = _utc(now_utc).astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
