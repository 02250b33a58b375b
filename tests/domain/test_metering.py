"""Meter values and transaction events become stored rows: scaling, defaults, links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.metering import (
    energy_registers,
    meter_rows,
    meter_rows_from_json,
    transaction_record,
)
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


def test_transaction_record_and_state_tracks_energy_from_the_payload():
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
    )
    raw = {
        "meterValue": [
            {
                "timestamp": "2026-02-01T08:00:00Z",
                "sampledValue": [
                    {"value": 7.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}},
                    {"value": 2.5, "phase": "L1", "unitOfMeasure": {"multiplier": 3}},
                    {"value": 11, "measurand": "Power.Active.Import"},
                    {"value": 0.1, "measurand": "Energy.Active.Export.Register"},
                ],
            }
        ]
    }
    record = transaction_record("CP1", request, raw)
    assert record.transaction_id == "tx-9"
    assert record.evse_id == 1
    assert record.connector_id == 2
    assert record.id_token_type == "ISO14443"
    assert record.charging_state == "Charging"
    assert record.payload is raw
    state = StationState("CP1", "ocpp2.0.1", T)
    state.apply_transaction_event(record)
    (live,) = state.snapshot().transactions
    assert live.energy_import_wh == 7500  # the phase's register is not the total
    assert live.energy_export_wh == 0.1
    assert live.last_seq_no == 3
    stale = transaction_record("CP1", request, {})
    state.apply_transaction_event(stale)  # same seqNo again: ignored
    assert state.snapshot().transactions[0].last_seq_no == 3


@given(
    st.lists(
        st.fixed_dictionaries(
            {"value": st.one_of(st.integers(-(2**63), 2**64 - 1), st.floats(-1e12, 1e12))},
            optional={
                "measurand": st.sampled_from(
                    ["Energy.Active.Import.Register", "Energy.Active.Export.Register", "SoC"]
                ),
                "phase": st.sampled_from(["L1", "N"]),
                "unitOfMeasure": st.fixed_dictionaries(
                    {}, optional={"multiplier": st.integers(-6, 6), "unit": st.just("kWh")}
                ),
            },
        ),
        min_size=1,
        max_size=6,
    )
)
def test_energy_registers_are_the_last_totals_of_the_rows(sampled: list[dict]):
    """The live state's registers without rows: the float of the last unphased row's value."""
    meter_values = [{"timestamp": "2026-02-01T08:00:00Z", "sampledValue": sampled}]
    expected = {
        row.measurand: float(row.value)
        for row in meter_rows_from_json("CP1", 1, meter_values)
        if row.measurand.startswith("Energy.") and row.phase is None
    }
    assert energy_registers(meter_values) == expected


def test_rows_built_unchecked_equal_the_checked_ones():
    fields = ("CP1", T, "SoC", Decimal("55.5"), 2, "tx-1", "L1", "EV", "Trigger", "Percent")
    row = unchecked_constructor(MeterValueRow)(*fields)
    assert row == MeterValueRow(*fields)
    assert hash(row) == hash(MeterValueRow(*fields))


def test_a_value_that_is_not_finite_is_refused():
    mv = v201.MeterValue(timestamp=T, sampled_value=(sampled(float("inf")),))
    with pytest.raises(ValueError, match="finite"):
        meter_rows("CP1", 1, [mv])
