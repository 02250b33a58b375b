"""From a station message to what a discharge session follows (pure translation, no decisions):
the meter readings of its transaction (SoC, export register, export power), the end of its
transaction, a fault of its EVSE."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from csms.domain.metering import meter_rows_from_json

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
    """The readings of ``meter_values`` (wire JSON), in time order. Totals only: a value per
    phase is not the EV's total."""
    by_time: dict[dt.datetime, dict[str, Decimal]] = {}
    for row in meter_rows_from_json(station_id, evse_id, meter_values):
        if row.phase is not None or row.measurand not in _FOLLOWED:
            continue
        by_time.setdefault(row.timestamp, {})[row.measurand] = row.value
    found = []
    for at in sorted(by_time):
        values = by_time[at]
        power = values.get(_EXPORT_POWER)
        if power is None and _IMPORT_POWER in values:
            power = -values[_IMPORT_POWER]
        if _SOC in values or _EXPORT_REGISTER in values or power is not None:
            found.append(Reading(at, values.get(_SOC), values.get(_EXPORT_REGISTER), power))
    return found


_FOLLOWED = frozenset({_SOC, _EXPORT_REGISTER, _EXPORT_POWER, _IMPORT_POWER})


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
