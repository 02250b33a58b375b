"""V2G preferences: parsing the REST body (422 naming the field) and the local discharge
windows in the operator's time zone (SPEC section 6, docs/V2G.md)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.services.v2g_preferences import (
    DAY_NAMES,
    DEFAULT_TIME_ZONE,
    DischargeWindow,
    PreferenceError,
    local_day_bounds,
    next_window_start,
    parse_preferences,
    preferences_to_json,
    time_zone,
    window_allows,
    window_end,
)

SP = time_zone(DEFAULT_TIME_ZONE)  # UTC-3 all year since 2019
BODY = {
    "userId": "u1",
    "optIn": True,
    "minSocPercent": 30,
    "maxDischargeKw": 7.4,
    "windows": [{"days": ["Mon", "Fri"], "start": "18:00", "end": "21:00"}],
    "maxCyclesPerDay": 2,
    "departureEnergyKwh": 20,
    "departureTime": "07:30",
}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_full_body_is_read_in_node_units():
    prefs = parse_preferences(BODY)
    assert prefs.user_id == "u1"
    assert prefs.opt_in is True
    assert prefs.min_soc_percent == Decimal(30)
    assert prefs.max_discharge_w == Decimal("7400.0")
    assert prefs.windows == (DischargeWindow(frozenset({0, 4}), dt.time(18), dt.time(21)),)
    assert prefs.max_cycles_per_day == 2
    assert prefs.departure_energy_wh == Decimal(20000)
    assert prefs.departure_time == dt.time(7, 30)


def test_optional_fields_default_to_any_time_one_cycle_no_departure():
    prefs = parse_preferences(
        {"userId": "u1", "optIn": False, "minSocPercent": 10, "maxDischargeKw": 3}
    )
    assert prefs.windows == ()
    assert prefs.max_cycles_per_day == 1
    assert prefs.departure_energy_wh is None
    assert prefs.departure_time is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"userId": None}, "userId"),
        ({"userId": ""}, "userId"),
        ({"optIn": "yes"}, "optIn"),
        ({"minSocPercent": 9}, "minSocPercent"),  # the preferences' range is 10-100 %
        ({"minSocPercent": 101}, "minSocPercent"),
        ({"minSocPercent": True}, "minSocPercent"),
        ({"minSocPercent": "30"}, "minSocPercent"),  # a JSON string is no number
        ({"minSocPercent": float("nan")}, "minSocPercent"),
        ({"maxDischargeKw": 0}, "maxDischargeKw"),
        ({"maxDischargeKw": -3}, "maxDischargeKw"),
        ({"maxDischargeKw": "abc"}, "maxDischargeKw"),
        ({"windows": {}}, "windows"),
        ({"windows": ["x"]}, "windows[0]"),
        ({"windows": [{"days": [], "start": "18:00", "end": "19:00"}]}, "windows[0].days"),
        ({"windows": [{"days": ["Mo"], "start": "18:00", "end": "19:00"}]}, "windows[0].days[0]"),
        ({"windows": [{"days": ["Mon"], "start": "24:00", "end": "19:00"}]}, "windows[0].start"),
        ({"windows": [{"days": ["Mon"], "start": "18:00"}]}, "windows[0].end"),
        ({"windows": [{"days": ["Mon"], "start": "1:00", "end": "2:00"}]}, "windows[0].start"),
        (
            {"windows": [{"days": ["Mon"], "start": "01:00", "end": "02:00", "tz": "x"}]},
            "windows[0].tz",
        ),
        ({"maxCyclesPerDay": 0}, "maxCyclesPerDay"),
        ({"maxCyclesPerDay": 1.5}, "maxCyclesPerDay"),
        ({"departureEnergyKwh": 0}, "departureEnergyKwh"),
        ({"departureTime": "7:30"}, "departureTime"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_field_is_named(change, field):
    with pytest.raises(PreferenceError) as caught:
        parse_preferences({**BODY, **change})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_body_that_is_no_object_is_refused():
    with pytest.raises(PreferenceError) as caught:
        parse_preferences([BODY])
    assert caught.value.field == "body"


clock = st.builds(dt.time, st.integers(0, 23), st.integers(0, 59))
windows = st.builds(DischargeWindow, st.frozensets(st.integers(0, 6), min_size=1), clock, clock)
preferences_json = st.fixed_dictionaries(
    {
        "userId": st.text("abc123-", min_size=1, max_size=64),
        "optIn": st.booleans(),
        "minSocPercent": st.integers(10, 100),
        "maxDischargeKw": st.decimals("0.1", "1000", places=1).map(float),
        "windows": st.lists(windows.map(DischargeWindow.to_json), max_size=4),
        "maxCyclesPerDay": st.integers(1, 24),
        "departureEnergyKwh": st.none() | st.integers(1, 1000),
        "departureTime": st.none() | clock.map(lambda t: t.strftime("%H:%M")),
    }
)


@given(preferences_json)
def test_preferences_round_trip_through_their_json(body):
    prefs = parse_preferences(body)
    assert parse_preferences(preferences_to_json(prefs)) == prefs


# -- windows ----------------------------------------------------------------------------------

FRIDAY_NIGHT = DischargeWindow(frozenset({4}), dt.time(22), dt.time(6))  # Fri 22:00 - Sat 06:00


def test_no_windows_allow_any_time_and_never_end():
    now = utc(2026, 3, 2, 12)
    assert window_allows((), now, SP)
    assert window_end((), now, SP) is None
    assert next_window_start((), now, SP) == now


def test_windows_are_read_in_the_operator_zone():
    evening = DischargeWindow(frozenset({0}), dt.time(18), dt.time(21))  # Monday 18-21 local
    # 2026-03-02 is a Monday; 18:00 in Sao Paulo is 21:00 UTC.
    assert not window_allows([evening], utc(2026, 3, 2, 20, 59), SP)
    assert window_allows([evening], utc(2026, 3, 2, 21, 0), SP)
    assert window_allows([evening], utc(2026, 3, 2, 23, 59), SP)
    assert not window_allows([evening], utc(2026, 3, 3, 0, 0), SP)  # end is exclusive
    assert window_end([evening], utc(2026, 3, 2, 22), SP) == utc(2026, 3, 3, 0)


def test_a_window_crossing_midnight_belongs_to_its_start_day():
    # Friday 2026-03-06 22:00 local = Saturday 01:00 UTC, until Saturday 06:00 local = 09:00 UTC.
    assert window_allows([FRIDAY_NIGHT], utc(2026, 3, 7, 1), SP)
    assert window_allows([FRIDAY_NIGHT], utc(2026, 3, 7, 8, 59), SP)
    assert not window_allows([FRIDAY_NIGHT], utc(2026, 3, 7, 9), SP)
    assert window_end([FRIDAY_NIGHT], utc(2026, 3, 7, 3), SP) == utc(2026, 3, 7, 9)
    # Saturday night is not Friday night: the window does not start on Saturday.
    assert not window_allows([FRIDAY_NIGHT], utc(2026, 3, 8, 3), SP)


def test_touching_windows_chain_into_one_stretch():
    late = DischargeWindow(frozenset({0}), dt.time(22), dt.time(0))  # Mon 22:00-24:00
    early = DischargeWindow(frozenset({1}), dt.time(0), dt.time(6))  # Tue 00:00-06:00
    assert window_end([late, early], utc(2026, 3, 3, 1), SP) == utc(2026, 3, 3, 9)


def test_a_whole_week_never_ends_and_outside_every_window_the_stretch_is_over():
    every_day = DischargeWindow(frozenset(range(7)), dt.time(0), dt.time(0))
    assert window_end([every_day], utc(2026, 3, 4, 15), SP) is None
    now = utc(2026, 3, 4, 15)
    assert window_end([FRIDAY_NIGHT], now, SP) == now


def test_the_next_window_start_is_ahead_in_utc():
    assert next_window_start([FRIDAY_NIGHT], utc(2026, 3, 4, 15), SP) == utc(2026, 3, 7, 1)


def test_the_local_day_is_the_operators():
    start, end = local_day_bounds(utc(2026, 3, 5, 2), SP)  # 23:00 on the 4th in Sao Paulo
    assert (start, end) == (utc(2026, 3, 4, 3), utc(2026, 3, 5, 3))


def test_naive_times_and_unknown_zones_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        window_allows([FRIDAY_NIGHT], dt.datetime(2026, 3, 7, 1), SP)
    with pytest.raises(ValueError, match="Mars/Olympus"):
        time_zone("Mars/Olympus")


def allowed_by_hand(window: DischargeWindow, local: dt.datetime) -> bool:
    """The rule as docs/V2G.md states it, one local datetime at a time."""
    t, day = local.time(), local.weekday()
    if not window.crosses_midnight:
        return day in window.days and window.start <= t < window.end
    return (day in window.days and t >= window.start) or (
        (day - 1) % 7 in window.days and t < window.end
    )


instants = st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 1, 1)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@given(st.lists(windows, min_size=1, max_size=3), instants)
def test_window_allows_matches_the_stated_rule(ws, now):
    local = now.astimezone(SP)
    assert window_allows(ws, now, SP) == any(allowed_by_hand(w, local) for w in ws)


@given(st.lists(windows, min_size=1, max_size=3), instants)
def test_the_stretch_is_allowed_up_to_its_end_and_not_at_it(ws, now):
    end = window_end(ws, now, SP)
    if not window_allows(ws, now, SP):
        assert end == now
    elif end is not None:
        assert end > now
        assert window_allows(ws, end - dt.timedelta(minutes=1), SP)
        assert not window_allows(ws, end, SP)


def test_day_names_are_monday_first():
    assert DAY_NAMES[dt.date(2026, 3, 2).weekday()] == "Mon"


def test_the_operator_zone_loads_without_the_systems_time_zone_files():
    """The tzdata dependency: zoneinfo finds America/Sao_Paulo on a machine without
    /usr/share/zoneinfo (a slim container), so the windows mean the same everywhere."""
    zoneinfo.reset_tzpath(to=[])
    try:
        zone = zoneinfo.ZoneInfo.no_cache(DEFAULT_TIME_ZONE)
    finally:
        zoneinfo.reset_tzpath()
    assert utc(2026, 3, 2, 21).astimezone(zone).hour == 18
