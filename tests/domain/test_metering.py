"""Meter values and transaction events become stored rows: scaling, defaults, links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.metering import meter_rows, transaction_record
from csms.domain.records import MeterValueRow, unchecked_constructor
from csms.domain.station import StationState
from csms.protocol import v201

T = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)


def sampled(value: float, **kwargs) -> v201.SampledValue:
    return v201.SampledValue(value=value, **kwargs)


def test_defaults_follow_part_2_and_the_unit_is_kept_only_when_sent():
    (row,) = meter_rows("CP1", 2, [v201.MeterValue(timestamp=T, sampled_value=(sampled(12.5),))])
    assert row.measurand == "Energy.Active.Import.Register"
    assert row.context == "Sample.Periodic"
    assert row.location == "Outlet"
    assert row.unit is None
    assert row.value == Decimal("12.5")
    assert row.evse_id == 2


@given(
    st.decimals(min_value=-10_000, max_value=10_000, places=3, allow_nan=False),
    st.integers(-3, 3),
)
def test_values_are_scaled_by_ten_to_the_multiplier_exactly(value: Decimal, multiplier: int):
    unit = v201.UnitOfMeasure(unit="kWh", multiplier=multiplier)
    mv = v201.MeterValue(timestamp=T, sampled_value=(sampled(float(value), unit_of_measure=unit),))
    (row,) = meter_rows("CP1", 1, [mv])
    assert row.value == Decimal(repr(float(value))) * Decimal(10) ** multiplier
    assert row.unit == "kWh"


def test_transaction_record_links_meter_values_and_state_tracks_energy():
    request = v201.TransactionEventRequest(
        event_type=v201.TransactionEventEnum.UPDATED,
        timestamp=T,
        trigger_reason=v201.TriggerReasonEnum.METER_VALUE_PERIODIC,
        seq_no=3,
        transaction_info=v201.Transaction(
            transaction_id="tx-9", charging_state=v201.ChargingStateEnum.CHARGING
        ),
        evse=v201.EVSE(id=1, connector_id=2),
        id_token=v201.IdToken(id_token="TAG", type=v201.IdTokenEnum.ISO14443),
        meter_value=(
            v201.MeterValue(
                timestamp=T,
                sampled_value=(
                    sampled(7.5, unit_of_measure=v201.UnitOfMeasure(unit="kWh", multiplier=3)),
                ),
            ),
        ),
    )
    record = transaction_record("CP1", request, {"raw": True})
    assert record.transaction_id == "tx-9"
    assert record.evse_id == 1
    assert record.connector_id == 2
    assert record.id_token_type == "ISO14443"
    assert record.charging_state == "Charging"
    assert [m.transaction_id for m in record.meter_values] == ["tx-9"]
    state = StationState("CP1", "ocpp2.0.1", T)
    state.apply_transaction_event(record)
    (live,) = state.snapshot().transactions
    assert live.energy_import_wh == 7500
    assert live.last_seq_no == 3
    stale = transaction_record("CP1", request, {})
    state.apply_transaction_event(stale)  # same seqNo again: ignored
    assert state.snapshot().transactions[0].last_seq_no == 3


def test_rows_built_unchecked_equal_the_checked_ones():
    fields = ("CP1", T, "SoC", Decimal("55.5"), 2, "tx-1", "L1", "EV", "Trigger", "Percent")
    row = unchecked_constructor(MeterValueRow)(*fields)
    assert row == MeterValueRow(*fields)
    assert hash(row) == hash(MeterValueRow(*fields))


def test_a_value_that_is_not_finite_is_refused():
    mv = v201.MeterValue(timestamp=T, sampled_value=(sampled(float("inf")),))
    with pytest.raises(ValueError, match="finite"):
        meter_rows("CP1", 1, [mv])
