"""From a station message to what a discharge session follows (pure translation, no decisions):
the meter readings of its transaction (SoC, export register, export power), the end of its
transaction, a fault of its EVSE."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from csms.protocol import parse_datetime

__all__ = ["Reading", "evse_faulted", "readings", "transaction_ended", "transaction_of"]

_SOC = "SoC"
_EXPORT_REGISTER = "Energy.Active.Export.Register"
_EXPORT_POWER = "Power.Active.Export"
_IMPORT_POWER = "Power.Active.Import"


@attrs.frozen
class Reading:
    """What one MeterValue (one timestamp) said of the session's EV; None: not sampled."""

    at: dt.datetime
    soc_percent: Decimal | None
    export_register_wh: Decimal | None
    #: Exported power, W (positive while discharging; an import is reported negative).
    export_power_w: Decimal | None


def readings(
    station_id: str, evse_id: int, meter_values: Iterable[Mapping[str, Any]]
) -> list[Reading]:
    """The readings of ``meter_values`` (schema-valid wire JSON), in time order. Totals only: a
    value per phase is not the EV's total. Values are converted as the protocol's structuring
    does (``meter_rows_from_json``: the float's shortest repr, scaled by 10^multiplier), but only
    those of the measurands followed: a reading is every few seconds for every session."""
    by_time: dict[dt.datetime, dict[str, Decimal]] | None = None
    for meter_value in meter_values:
        values: dict[str, Decimal] | None = None
        for sampled in meter_value["sampledValue"]:
            get = sampled.get
            measurand = get("measurand", _IMPORT_REGISTER)
            if measurand not in _FOLLOWED or get("phase") is not None:
                continue
            value = Decimal(repr(float(sampled["value"])))
            unit = get("unitOfMeasure")
            if unit is not None and unit.get("multiplier"):
                value = value * _TEN ** int(unit["multiplier"])
            if values is None:
                if by_time is None:
                    by_time = {}
                values = by_time.setdefault(parse_datetime(meter_value["timestamp"]), {})
            values[measurand] = value
    if by_time is None:
        return []
    found = []
    for at in sorted(by_time):
        values = by_time[at]
        power = values.get(_EXPORT_POWER)
        if power is None and _IMPORT_POWER in values:
            power = -values[_IMPORT_POWER]
        found.append(Reading(at, values.get(_SOC), values.get(_EXPORT_REGISTER), power))
    return found


_FOLLOWED = frozenset({_SOC, _EXPORT_REGISTER, _EXPORT_POWER, _IMPORT_POWER})
_IMPORT_REGISTER = "Energy.Active.Import.Register"  # a sampled value without a measurand
_TEN = Decimal(10)


def transaction_of(raw: Mapping[str, Any]) -> str | None:
    """A TransactionEventRequest's transactionId."""
    info = raw.get("transactionInfo")
    return None if not isinstance(info, Mapping) else info.get("transactionId")


def transaction_ended(raw: Mapping[str, Any]) -> bool:
    """A TransactionEventRequest that ends its transaction (the EV unplugged among others)."""
    return raw.get("eventType") == "Ended"


def evse_faulted(raw: Mapping[str, Any], evse_id: int) -> bool:
    """A StatusNotificationRequest reporting a connector of ``evse_id`` Faulted."""
    return raw.get("evseId") == evse_id and raw.get("connectorStatus") == "Faulted"
