"""Write records refuse bad values where they are built, naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from csms.domain.records import EvseStatus, MeterValueRow, StationUpsert, to_decimal

from .records import T0, tx_event


def test_a_float_becomes_the_decimal_it_was_written_as():
    assert to_decimal(0.1) == Decimal("0.1")
    assert MeterValueRow("CP1", T0, "SoC", 55.5).value == Decimal("55.5")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: MeterValueRow("CP1", T0, "Energy.Made.Up", 1), "measurand"),
        (lambda: MeterValueRow("CP1", T0.replace(tzinfo=None), "SoC", 1), "timestamp"),
        (lambda: MeterValueRow("CP1", T0, "SoC", float("nan")), "finite"),
        (lambda: MeterValueRow("CP:1", T0, "SoC", 1), "station_id"),
        (lambda: MeterValueRow("CP1", T0, "SoC", 1, phase="L4"), "phase"),
        (lambda: EvseStatus("CP1", -1, 1, "Available", T0), "evse_id"),
        (lambda: EvseStatus("CP1", 1, 1, "Broken", T0), "status"),
        (lambda: StationUpsert("CP1", T0, registration_status="Maybe"), "registration_status"),
        (lambda: tx_event(-1), "seq_no"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(build, field):
    with pytest.raises(ValueError, match=field):
        build()


def test_a_transaction_event_keeps_its_meter_values_in_its_payload():
    """No row per sampled value in the record: the database makes them from the payload."""
    event = tx_event(3, meter_values=2)
    assert not hasattr(event, "meter_values")
    assert len(event.payload["meterValue"]) == 2
    assert event.timestamp == T0 + dt.timedelta(minutes=3)
