"""The live state of a connected station, as its actor keeps it. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from .metering import energy_registers


@attrs.frozen
class BootInfo:
    vendor_name: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    reason: str
    at: dt.datetime


@attrs.frozen
class ActiveTransaction:
    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    started_at: dt.datetime
    id_token: str | None
    charging_state: str | None
    last_seq_no: int
    energy_import_wh: float | None = None
    energy_export_wh: float | None = None


@attrs.frozen
class StationSnapshot:
    """What the API shows of a connected station."""

    station_id: str
    version: str
    connected_at: dt.datetime
    registration_status: str | None
    boot: BootInfo | None
    last_heartbeat: dt.datetime | None
    connectors: dict[str, str]  # "evse/connector" -> status
    availability: dict[str, str]  # "evse" (0 = station) -> Operative / Inoperative
    transactions: tuple[ActiveTransaction, ...]


_ENERGY = {
    "Energy.Active.Import.Register": "energy_import_wh",
    "Energy.Active.Export.Register": "energy_export_wh",
}


@attrs.define
class StationState:
    station_id: str
    version: str
    connected_at: dt.datetime
    registration_status: str | None = None
    #: The registration status the station's row had when it connected (read for its
    #: credentials): its first BootNotification is decided from it, not from a second read.
    registration_at_connect: str | None = None
    boot: BootInfo | None = None
    last_heartbeat: dt.datetime | None = None
    connectors: dict[tuple[int, int], str] = attrs.field(factory=dict)
    availability: dict[int, str] = attrs.field(factory=dict)
    transactions: dict[str, ActiveTransaction] = attrs.field(factory=dict)

    def set_connector(self, evse_id: int, connector_id: int, status: str) -> None:
        self.connectors[(evse_id, connector_id)] = status

    def apply_transaction_event(self, record: Any) -> None:
        """Track Started / Updated / Ended (a TransactionEventRecord); stale seqNos are ignored."""
        current = self.transactions.get(record.transaction_id)
        if record.event_type == "Ended":
            self.transactions.pop(record.transaction_id, None)
            return
        if current is not None and record.seq_no <= current.last_seq_no:
            return
        if current is None:
            current = ActiveTransaction(
                transaction_id=record.transaction_id,
                evse_id=record.evse_id,
                connector_id=record.connector_id,
                started_at=record.timestamp,
                id_token=record.id_token,
                charging_state=record.charging_state,
                last_seq_no=record.seq_no,
            )
        changes: dict[str, Any] = {"last_seq_no": record.seq_no}
        if record.evse_id is not None:
            changes["evse_id"] = record.evse_id
        if record.connector_id is not None:
            changes["connector_id"] = record.connector_id
        if record.id_token is not None:
            changes["id_token"] = record.id_token
        if record.charging_state is not None:
            changes["charging_state"] = record.charging_state
        for measurand, value in energy_registers(record.payload.get("meterValue")).items():
            changes[_ENERGY[measurand]] = value
        self.transactions[record.transaction_id] = attrs.evolve(current, **changes)

    def snapshot(self) -> StationSnapshot:
        return StationSnapshot(
            station_id=self.station_id,
            version=self.version,
            connected_at=self.connected_at,
            registration_status=self.registration_status,
            boot=self.boot,
            last_heartbeat=self.last_heartbeat,
            connectors={f"{e}/{c}": s for (e, c), s in sorted(self.connectors.items())},
            availability={str(e): s for e, s in sorted(self.availability.items())},
            transactions=tuple(self.transactions.values()),
        )
