"""Record builders shared by the storage and persistence tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from csms.domain.records import MeterValueRow, StationUpsert, TransactionEventRecord

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def station(station_id: str = "CP001") -> StationUpsert:
    return StationUpsert(station_id, T0, registration_status="Accepted", vendor_name="Acme")


def meter(
    station_id: str = "CP001", n: int = 0, *, transaction_id: str | None = None
) -> MeterValueRow:
    return MeterValueRow(
        station_id,
        T0 + dt.timedelta(seconds=n),
        "Energy.Active.Import.Register",
        1000 + n,
        evse_id=1,
        transaction_id=transaction_id,
        context="Sample.Periodic",
        unit="Wh",
    )


def tx_event(
    seq_no: int,
    event_type: str = "Updated",
    *,
    station_id: str = "CP001",
    transaction_id: str = "tx-1",
    meter_values: int = 2,
    at: dt.datetime | None = None,
    readings: Sequence[dict[str, Any]] | None = None,
) -> TransactionEventRecord:
    """An event stamped ``at`` (``seq_no`` minutes after ``T0`` by default) whose payload
    carries ``meter_values`` meter values, stored as the rows ``meter(station_id, seq_no * 60 +
    i, transaction_id=transaction_id)``; or, given ``readings``, one meter value stamped ``at``
    with these sampled values (none: no meter value)."""
    at = T0 + dt.timedelta(minutes=seq_no) if at is None else at
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": at.isoformat(),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id},
        "evse": {"id": 1, "connectorId": 1},
    }
    if readings is not None:
        if readings:
            payload["meterValue"] = [{"timestamp": at.isoformat(), "sampledValue": list(readings)}]
    elif meter_values:
        payload["meterValue"] = [
            {
                "timestamp": (at + dt.timedelta(seconds=i)).isoformat(),
                "sampledValue": [
                    {
                        "value": 1000 + seq_no * 60 + i,
                        "context": "Sample.Periodic",
                        "unitOfMeasure": {"unit": "Wh"},
                    }
                ],
            }
            for i in range(meter_values)
        ]
    return TransactionEventRecord(
        station_id,
        transaction_id,
        seq_no,
        event_type,
        at,
        "MeterValuePeriodic" if event_type == "Updated" else "Authorized",
        payload=payload,
        evse_id=1,
        connector_id=1,
        id_token="TOKEN1",
        id_token_type="ISO14443",
        charging_state="Charging",
    )
