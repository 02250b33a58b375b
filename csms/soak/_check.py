"""The ledger check: what the stations saw acknowledged against what PostgreSQL holds.

Every acknowledged TransactionEvent is stored exactly once with every meter value it carried;
every acknowledged MeterValues message's values are stored (once); nothing the stations never
had acknowledged (nor still hold, sent perhaps, unanswered) is in the database; every station
is connected and booted at the end. Each violation names the exact records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from csms.simulator._ledger import Acknowledged, Delivered
from csms.storage import connect

from ._asker import AskedCommand

if TYPE_CHECKING:
    from ._v2g import FaultSpan

__all__ = ["LedgerCheck", "StationEnd", "Violation", "check_ledger"]


@attrs.frozen
class Violation:
    kind: str  # lost | duplicate | phantom | meter_values_lost | meter_values_duplicated | ...
    station_id: str
    detail: str

    def dump(self) -> dict[str, str]:
        return {"kind": self.kind, "station": self.station_id, "detail": self.detail}


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)  # a worker's ledger file gives lists


@attrs.frozen
class StationEnd:
    """A station's state at the end of the run."""

    station_id: str
    online: bool  # connected and its BootNotification accepted
    boots: int
    transactions: tuple[str, ...] = attrs.field(default=(), converter=_strings)  # open on it
    #: its transactions whose ruling charging profile discharges (a negative power)
    discharging: tuple[str, ...] = attrs.field(default=(), converter=_strings)


@attrs.frozen
class LedgerCheck:
    acknowledged: int  # transaction messages acknowledged (TransactionEvent + MeterValues)
    acknowledged_events: int
    stored_events: int
    pending: int  # still unacknowledged in the stations' queues at the end
    duplicates: int
    violations: tuple[Violation, ...]
    commands_delivered: int = 0  # CALLs of the CSMS the stations received
    commands_answered: int = 0  # asked through the REST API and answered with the station's
    commands_unaudited: int = 0  # ... of which without an audit row (checked by count)
    v2g_sessions_at_faults: int = 0  # V2G sessions active at a fault (`check_v2g`)

    @property
    def ok(self) -> bool:
        return not self.violations

    def dump(self, limit: int = 50) -> dict[str, object]:
        return {
            "acknowledged": self.acknowledged,
            "acknowledged_events": self.acknowledged_events,
            "stored_events": self.stored_events,
            "pending": self.pending,
            "duplicates": self.duplicates,
            "commands_delivered": self.commands_delivered,
            "commands_answered": self.commands_answered,
            "commands_unaudited": self.commands_unaudited,
            "v2g_sessions_at_faults": self.v2g_sessions_at_faults,
            "violations": len(self.violations),
            "violations_by_kind": dict(Counter(v.kind for v in self.violations)),
            "violation_records": [v.dump() for v in self.violations[:limit]],
        }


def check_ledger(
    database_url: str,
    acknowledged: Sequence[Acknowledged],
    pending: Sequence[Acknowledged],
    stations: Iterable[StationEnd],
    deliveries: Sequence[Delivered] = (),
    asked: Sequence[AskedCommand] = (),
    faults: Sequence[FaultSpan] = (),
    readings_since: float = 0.0,
) -> LedgerCheck:
    """Compare; ``pending`` may be stored or not (sent perhaps, never acknowledged);
    ``asked``: the commands the soak asked through the REST API, with their answers;
    ``faults``: when they happened, for the V2G sessions active at one, and
    ``readings_since``: the active ones' readings stored since (`check_v2g`)."""
    ends = list(stations)
    ids = sorted({s.station_id for s in ends})
    with connect(database_url) as conn:
        events = conn.execute(
            "SELECT station_id, transaction_id, seq_no, count(*) FROM transaction_events"
            " WHERE station_id = ANY(%s) GROUP BY 1, 2, 3",
            (ids,),
        ).fetchall()
        meters = conn.execute(
            "SELECT station_id, transaction_id, count(*) FROM meter_values"
            " WHERE station_id = ANY(%s) GROUP BY 1, 2",
            (ids,),
        ).fetchall()
        from ._check_commands import check_answered, check_commands  # they import Violation

        violations: list[Violation] = check_commands(conn, deliveries)
        answered, unaudited = check_answered(conn, asked, deliveries)
        violations += answered
        from ._v2g import check_v2g

        v2g, at_faults = check_v2g(conn, faults, ends, readings_since)
        violations += v2g
    stored = {(s, t, q): n for s, t, q, n in events}
    stored_meters = {(s, t): n for s, t, n in meters}
    acked_keys = Counter(e.key for e in acknowledged if e.key is not None)
    pending_keys = {e.key for e in pending if e.key is not None}
    for key, times in sorted(acked_keys.items()):
        if times > 1:  # the CSMS acknowledged one event twice: the station sent it twice
            violations.append(Violation("acknowledged_twice", key[0], _event(key)))
        if key not in stored:
            violations.append(Violation("lost", key[0], f"acknowledged, not stored: {_event(key)}"))
    duplicates = 0
    for key, n in sorted(stored.items()):
        if n > 1:
            duplicates += n - 1
            violations.append(Violation("duplicate", key[0], f"stored {n} times: {_event(key)}"))
        if key not in acked_keys and key not in pending_keys:
            violations.append(
                Violation("phantom", key[0], f"stored, never acknowledged nor sent: {_event(key)}")
            )
    expected: Counter[tuple[str, str | None]] = Counter()
    maybe: Counter[tuple[str, str | None]] = Counter()
    for entry in acknowledged:
        expected[entry.station_id, entry.transaction_id] += entry.meter_values
    for entry in pending:
        maybe[entry.station_id, entry.transaction_id] += entry.meter_values
    for station, tx in sorted(set(expected) | set(stored_meters), key=repr):
        want, have = expected[station, tx], stored_meters.get((station, tx), 0)
        extra = have - want - maybe[station, tx]
        where = f"station {station} transaction {tx or '(none: MeterValues)'}"
        if have < want:
            violations.append(
                Violation("meter_values_lost", station, f"{where}: {want} acknowledged, {have}")
            )
        elif extra > 0:
            duplicates += extra
            violations.append(
                Violation("meter_values_duplicated", station, f"{where}: {want} acked, {have}")
            )
    for end in ends:
        if not end.online:
            violations.append(
                Violation("not_back", end.station_id, f"not online at the end ({end.boots} boots)")
            )
    return LedgerCheck(
        acknowledged=len(acknowledged),
        acknowledged_events=len(acked_keys),
        stored_events=len(stored),
        pending=len(pending),
        duplicates=duplicates,
        violations=tuple(violations),
        commands_delivered=len(deliveries),
        commands_answered=sum(1 for a in asked if a.delivered),
        commands_unaudited=unaudited,
        v2g_sessions_at_faults=at_faults,
    )


def _event(key: tuple[str, str, int]) -> str:
    return f"TransactionEvent station={key[0]} transactionId={key[1]} seqNo={key[2]}"
