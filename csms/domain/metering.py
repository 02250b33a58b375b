"""From OCPP meter values and transaction events to the rows that are stored. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from .records import MeterValueRow, TransactionEventRecord

_TEN = Decimal(10)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def meter_rows(
    station_id: str,
    evse_id: int,
    meter_values: Iterable[Any],
    *,
    transaction_id: str | None = None,
) -> list[MeterValueRow]:
    """One row per sampled value, scaled by its unit's multiplier (10^m) so energy is in Wh.

    Defaults follow Part 2 (SampledValueType): measurand Energy.Active.Import.Register, context
    Sample.Periodic, location Outlet. The unit is stored only when the station sent one.
    """
    rows: list[MeterValueRow] = []
    # The values come from schema-checked messages: re-running every field check would nearly
    # double the cost of a row (the database still guards). No await inside: no other task of
    # this thread builds records meanwhile.
    with attrs.validators.disabled():
        for meter_value in meter_values:
            timestamp = meter_value.timestamp
            for sampled in meter_value.sampled_value:
                unit = sampled.unit_of_measure
                multiplier = (unit.multiplier or 0) if unit is not None else 0
                value = Decimal(repr(sampled.value))
                if multiplier:
                    value = value * _TEN**multiplier
                rows.append(
                    MeterValueRow(
                        station_id,
                        timestamp,
                        _text(sampled.measurand) or "Energy.Active.Import.Register",
                        value,
                        evse_id,
                        transaction_id,
                        _text(sampled.phase),
                        _text(sampled.location) or "Outlet",
                        _text(sampled.context) or "Sample.Periodic",
                        unit.unit if unit is not None and unit.unit else None,
                    )
                )
    return rows


def transaction_record(
    station_id: str, request: Any, raw: Mapping[str, Any]
) -> TransactionEventRecord:
    """The stored form of a TransactionEventRequest (2.0.1 or 2.1), with its meter values."""
    info = request.transaction_info
    evse = request.evse
    evse_id = evse.id if evse is not None else None
    token = request.id_token
    return TransactionEventRecord(
        station_id=station_id,
        transaction_id=info.transaction_id,
        seq_no=request.seq_no,
        event_type=str(request.event_type),
        timestamp=request.timestamp,
        trigger_reason=str(request.trigger_reason),
        payload=raw,
        offline=bool(request.offline),
        evse_id=evse_id,
        connector_id=evse.connector_id if evse is not None else None,
        id_token=token.id_token if token is not None else None,
        id_token_type=str(token.type) if token is not None else None,
        charging_state=_text(info.charging_state),
        stopped_reason=_text(info.stopped_reason),
        meter_values=meter_rows(
            station_id,
            evse_id or 0,
            request.meter_value or (),
            transaction_id=info.transaction_id,
        ),
    )
