"""From OCPP meter values and transaction events to the rows that are stored. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from csms.protocol import parse_datetime

from .records import MeterValueRow, TransactionEventRecord, unchecked_constructor

_TEN = Decimal(10)
_ENERGY = "Energy.Active.Import.Register"
_REGISTERS = frozenset((_ENERGY, "Energy.Active.Export.Register"))
_row = unchecked_constructor(MeterValueRow)


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
    append = rows.append
    # The values come from schema-checked messages (enumerations, types, a timezone on every
    # timestamp; JSON has no NaN): re-running the field checks of MeterValueRow per value cost
    # as much as the rest of the row, so the rows are built unchecked (the database still
    # guards). A finite value is all that is checked here.
    for meter_value in meter_values:
        timestamp = meter_value.timestamp
        for sampled in meter_value.sampled_value:
            value = Decimal(repr(sampled.value))
            if not value.is_finite():
                raise ValueError(f"value: not a finite number: {sampled.value!r}")
            unit = sampled.unit_of_measure
            unit_text = None
            if unit is not None:
                if unit.multiplier:
                    value = value * _TEN**unit.multiplier
                unit_text = unit.unit or None
            measurand, phase = sampled.measurand, sampled.phase
            location, context = sampled.location, sampled.context
            append(
                _row(
                    station_id,
                    timestamp,
                    _ENERGY if measurand is None else str(measurand),
                    value,
                    evse_id,
                    transaction_id,
                    None if phase is None else str(phase),
                    "Outlet" if location is None else str(location),
                    "Sample.Periodic" if context is None else str(context),
                    unit_text,
                )
            )
    return rows


def transaction_record(
    station_id: str, request: Any, raw: Mapping[str, Any]
) -> TransactionEventRecord:
    """The stored form of a TransactionEventRequest (2.0.1 or 2.1). Its meter values stay in
    ``raw`` (the payload): the database makes their rows from it, as ``meter_rows_from_json``
    would (see ``TransactionEventRecord``)."""
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
    )


def meter_rows_from_json(
    station_id: str,
    evse_id: int,
    meter_values: Iterable[Mapping[str, Any]],
    *,
    transaction_id: str | None = None,
) -> list[MeterValueRow]:
    """`meter_rows` of schema-valid wire JSON (MeterValueType objects), without the generated
    classes: the same rows, each field converted as the protocol's structuring does."""
    rows: list[MeterValueRow] = []
    append = rows.append
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            number = sampled["value"]
            value = Decimal(repr(float(number)))
            if not value.is_finite():
                raise ValueError(f"value: not a finite number: {number!r}")
            unit = sampled.get("unitOfMeasure")
            unit_text = None
            if unit is not None:
                multiplier = unit.get("multiplier")
                if multiplier:
                    value = value * _TEN ** int(multiplier)
                unit_text = unit.get("unit") or None
            get = sampled.get
            append(
                _row(
                    station_id,
                    timestamp,
                    get("measurand", _ENERGY),
                    value,
                    evse_id,
                    transaction_id,
                    get("phase"),
                    get("location", "Outlet"),
                    get("context", "Sample.Periodic"),
                    unit_text,
                )
            )
    return rows


def transaction_record_from_json(station_id: str, raw: Mapping[str, Any]) -> TransactionEventRecord:
    """`transaction_record` of a schema-valid TransactionEventRequest's wire JSON (2.0.1 or
    2.1), without structuring it into the generated classes: the same record. No meter value is
    looked at: the database makes their rows from the payload."""
    info = raw["transactionInfo"]
    transaction_id = info["transactionId"]
    evse = raw.get("evse")
    evse_id = connector_id = None
    if evse is not None:
        evse_id = int(evse["id"])
        connector = evse.get("connectorId")
        connector_id = None if connector is None else int(connector)
    token = raw.get("idToken")
    return TransactionEventRecord(
        station_id=station_id,
        transaction_id=transaction_id,
        seq_no=int(raw["seqNo"]),
        event_type=raw["eventType"],
        timestamp=parse_datetime(raw["timestamp"]),
        trigger_reason=raw["triggerReason"],
        payload=raw,
        offline=bool(raw.get("offline")),
        evse_id=evse_id,
        connector_id=connector_id,
        id_token=token["idToken"] if token is not None else None,
        id_token_type=token["type"] if token is not None else None,
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
    )


def energy_registers(meter_values: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """The last value of each energy register (``Energy.Active.Import.Register``, the default
    measurand, and ``Energy.Active.Export.Register``) among schema-valid wire meter values,
    totals only (no phase), scaled as ``meter_rows_from_json`` scales it, as a float: what the
    live state of a transaction shows, without a row per sampled value."""
    found: dict[str, float] = {}
    for meter_value in meter_values or ():
        for sampled in meter_value["sampledValue"]:
            measurand = sampled.get("measurand", _ENERGY)
            if measurand not in _REGISTERS or sampled.get("phase") is not None:
                continue
            value = float(sampled["value"])
            unit = sampled.get("unitOfMeasure")
            multiplier = unit.get("multiplier") if unit is not None else None
            if multiplier:  # exactly as the row's value, rounded once
                value = float(Decimal(repr(value)) * _TEN ** int(multiplier))
            found[measurand] = value
    return found
