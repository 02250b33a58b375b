"""What the CSMS acknowledged, as the simulated stations saw it: the ledger a soak run checks
against PostgreSQL afterwards (``csms.soak``).

A station records a transaction message (TransactionEvent, MeterValues) once the CSMS answered
it with a CALLRESULT, that is once the CSMS said it is stored (SPEC section 4: acknowledged
after COMMIT). Messages still waiting in a station's queue at the end were sent perhaps but not
acknowledged: the check allows them to be stored or not, but nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

__all__ = ["Acknowledged", "Delivered", "Ledger", "entry_of"]


@attrs.frozen
class Acknowledged:
    """One acknowledged transaction message: ``seq_no`` and ``transaction_id`` are None for a
    MeterValues message; ``meter_values`` counts its sampled values (meter-value rows)."""

    station_id: str
    action: str
    transaction_id: str | None
    seq_no: int | None
    event_type: str | None
    meter_values: int

    @property
    def key(self) -> tuple[str, str, int] | None:
        """The event's identity in ``transaction_events`` (None for MeterValues)."""
        if self.transaction_id is None or self.seq_no is None:
            return None
        return (self.station_id, self.transaction_id, self.seq_no)


@attrs.frozen
class Delivered:
    """A CALL of the CSMS a station received (a command), with the wall-clock instants in
    seconds since the epoch it was received and its connection was opened (None in a ledger
    written before they were recorded): compared with the node's command audit afterwards."""

    station_id: str
    message_id: str
    action: str
    received_at: float
    connection_opened_at: float | None = None


def _sampled(payload: Mapping[str, Any]) -> int:
    return sum(len(mv.get("sampledValue", ())) for mv in payload.get("meterValue", ()))


def entry_of(station_id: str, action: str, payload: Mapping[str, Any]) -> Acknowledged | None:
    """The ledger entry of a CALL, or None when ``action`` is not a transaction message."""
    if action == "TransactionEvent":
        info = payload.get("transactionInfo", {})
        return Acknowledged(
            station_id,
            action,
            str(info.get("transactionId")),
            int(payload["seqNo"]),
            str(payload.get("eventType")),
            _sampled(payload),
        )
    if action == "MeterValues":
        return Acknowledged(station_id, action, None, None, None, _sampled(payload))
    return None


class Ledger:
    """Shared by every station of a fleet (one trio thread: no lock needed)."""

    __slots__ = ("deliveries", "entries", "messages", "on_record")

    def __init__(self) -> None:
        self.entries: list[Acknowledged] = []
        self.deliveries: list[Delivered] = []
        self.messages = 0  # every acknowledged call, transaction message or not
        self.on_record: Callable[[], None] | None = None  # told of every acknowledgement

    def record(self, station_id: str, action: str, payload: Mapping[str, Any]) -> None:
        self.messages += 1
        entry = entry_of(station_id, action, payload)
        if entry is not None:
            self.entries.append(entry)
        if self.on_record is not None:
            self.on_record()

    def delivered(
        self, station_id: str, message_id: str, action: str, opened_at: float | None = None
    ) -> None:
        """``opened_at``: when the connection the CALL came on was opened."""
        self.deliveries.append(Delivered(station_id, message_id, action, time.time(), opened_at))

    def __len__(self) -> int:
        return len(self.entries)

    @staticmethod
    def pending(
        queues: Mapping[str, Iterable[tuple[str, Mapping[str, Any]]]],
    ) -> list[Acknowledged]:
        """The transaction messages still unacknowledged, per station: ``(action, payload)``."""
        out = []
        for station_id, queue in queues.items():
            for action, payload in queue:
                entry = entry_of(station_id, action, payload)
                if entry is not None:
                    out.append(entry)
        return out
