"""The station limits a needs profile respects (K15.FR.07), read from the device model the
station reported: ``EVSE.Power`` maxLimit (W or kW), ``SmartChargingCtrlr.PeriodsPerSchedule``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from csms.storage import connect
from csms.storage import stations as station_repo
from csms.storage.v2x_station_limits import NeedsLimits, needs_limits

from .records import T0


@pytest.fixture
def conn(database_url):
    with connect(database_url) as c:
        yield c


def reported(
    conn,
    station_id,
    component,
    variable,
    *,
    evse=None,
    value=None,
    max_limit=None,
    unit=None,
    attribute="Actual",
):
    conn.execute(
        "INSERT INTO device_variables (station_id, component, evse_id, variable, attribute_type,"
        " value, max_limit, unit, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (station_id, component, evse, variable, attribute, value, max_limit, unit, T0),
    )


def test_nothing_reported_means_no_limits(conn):
    station_repo.create(conn, "LIM1")
    assert needs_limits(conn, "LIM1", 1) == NeedsLimits()


def test_the_evses_power_max_limit_and_the_periods_per_schedule(conn):
    station_repo.create(conn, "LIM2")
    reported(conn, "LIM2", "EVSE", "Power", evse=1, value="0", max_limit=22000, unit="W")
    reported(conn, "LIM2", "EVSE", "Power", evse=2, max_limit=50, unit="kW")
    reported(conn, "LIM2", "SmartChargingCtrlr", "PeriodsPerSchedule", value="24")
    assert needs_limits(conn, "LIM2", 1) == NeedsLimits(Decimal(22000), 24)
    assert needs_limits(conn, "LIM2", 2) == NeedsLimits(Decimal(50000), 24)
    assert needs_limits(conn, "LIM2", 3) == NeedsLimits(None, 24)
    assert needs_limits(conn, "OTHER", 1) == NeedsLimits()


def test_a_periods_value_that_is_no_number_is_ignored(conn):
    station_repo.create(conn, "LIM3")
    reported(conn, "LIM3", "SmartChargingCtrlr", "PeriodsPerSchedule", value="many")
    assert needs_limits(conn, "LIM3", 1).periods_per_schedule is None
