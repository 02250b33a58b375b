"""The blocking half of the persistence actor: write one batch of records in one transaction.

A batch is a list of *groups*, one per writer request; a group is stored whole or not at all.

- A batch goes out as one pipeline with nothing read back before its end but the transaction's
  id: BEGIN and the id, then the statements, then COMMIT. The kinds of every transaction flow
  (connector statuses, transactions and their events) are set-based, one statement per batch
  with its rows as one JSON parameter: in a pipeline psycopg polls the socket for every
  statement it queues, and each poll may hand the GIL to the event loop's thread, and orjson
  serializes rows in C where psycopg adapts arrays element by element in Python. The rarer
  kinds go by ``executemany``. Transaction events and their meter values are one
  statement, so a retried event's meter values are left out by the database; it makes those
  meter values' rows from the event's payload, which it gets anyway. Meter values of
  MeterValues messages go in with binary COPY, after the pipeline and before COMMIT.
- A data error (constraint, bad value) in the batch rolls it back and replays it with one savepoint
  per group: the bad groups get their error back, the good ones are committed. That replay is
  the slow path, for a genuinely bad record only; ``Batch.replayed`` says it was taken, and the
  persistence actor counts both paths (``/metrics``).
- A connection error is transient: the caller keeps the batch and calls ``write`` again later.
  When the connection died once COMMIT may have gone out the outcome is unknown; the transaction
  id, read before COMMIT is sent, is looked up on the next attempt (``pg_xact_status``), so a
  committed batch is never written twice and an aborted one is never reported as stored.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import orjson
import psycopg
from psycopg.types.json import set_json_dumps

from csms.domain.records import (
    CommandAudit,
    DeviceVariableRecord,
    EvseStatus,
    FirmwareStatusRecord,
    MeterValueRow,
    Record,
    SecurityEventRecord,
    StationPresence,
    StationUpsert,
    TransactionEventRecord,
    V2GEventRecord,
)
from csms.protocol import parse_datetime

from . import _sql
from ._connect import Connection, connect

__all__ = ["Batch", "BatchWriter", "TransientError"]

log = logging.getLogger("csms.storage")


class TransientError(Exception):
    """The database could not be reached or the outcome is not known yet: try the batch again."""


@attrs.define(eq=False)
class Batch:
    """Groups of records written together. ``results`` is filled in when the batch is settled:
    one entry per group, None when stored, the exception when the group was refused."""

    groups: list[Sequence[Record]]
    results: list[BaseException | None] | None = None
    # transaction id of an attempt whose COMMIT may or may not have happened
    uncertain_xid: str | None = None
    #: True when the batch was refused whole and replayed group by group (the slow path)
    replayed: bool = False

    @property
    def settled(self) -> bool:
        return self.results is not None

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)


def _dump_json(obj: Any) -> bytes:
    return orjson.dumps(obj)


class BatchWriter:
    """Owns one connection; ``write`` is called from one worker thread at a time."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn: Connection | None = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def write(self, batch: Batch) -> None:
        """Settle ``batch`` (fill ``batch.results``) or raise ``TransientError``."""
        if batch.settled:
            return
        try:
            conn = self._connection()
            if batch.uncertain_xid is not None and self._resolve(conn, batch):
                return
            results = self._attempt(conn, batch)
        except psycopg.OperationalError as exc:
            self._drop_connection()
            raise TransientError(str(exc)) from exc
        batch.results = results

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop_connection()
            # autocommit: the writer sends BEGIN itself, inside its pipeline (psycopg's own
            # BEGIN would be a round trip of its own before the first statement)
            conn = connect(self.url, autocommit=True, connect_timeout=self._connect_timeout)
            set_json_dumps(_dump_json, context=conn)
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _resolve(self, conn: Connection, batch: Batch) -> bool:
        """After a lost COMMIT: True when it did commit (the batch is settled)."""
        try:
            (status,) = conn.execute(
                "SELECT pg_xact_status(%s::xid8)", (batch.uncertain_xid,)
            ).fetchone() or (None,)
        except psycopg.errors.InvalidParameterValue:
            # "transaction ID ... is in the future": the server crashed before that id reached
            # its WAL, so the transaction cannot have committed (a commit is logged first).
            status = "aborted"
        conn.rollback()
        if status == "committed":
            batch.results = [None] * len(batch.groups)
            return True
        if status == "in progress":  # the old session is still finishing: ask again later
            raise TransientError("the previous attempt is still committing")
        batch.uncertain_xid = None
        return False

    def _attempt(self, conn: Connection, batch: Batch) -> list[BaseException | None]:
        try:
            self._write_batch(conn, batch, [r for group in batch.groups for r in group])
            return [None] * len(batch.groups)
        except psycopg.OperationalError:
            raise
        except Exception as exc:  # data error: nothing was committed; find the bad groups
            if conn.broken:
                raise psycopg.OperationalError(str(exc)) from exc
            batch.uncertain_xid = None
            conn.rollback()
            batch.replayed = True
            log.warning(
                "batch refused, retrying group by group",
                extra={"groups": len(batch.groups), "error": str(exc)},
            )
            conn.execute(_BEGIN)
            xid = _current_xid(conn.execute(_CURRENT_XID))
            results = [_apply_group(conn, group) for group in batch.groups]
            batch.uncertain_xid = xid
            conn.commit()
            batch.uncertain_xid = None
            return results

    @staticmethod
    def _write_batch(conn: Connection, batch: Batch, records: Sequence[Record]) -> None:
        """Write ``records`` in one transaction and commit it, as one pipeline: BEGIN and the
        transaction's id go out first, the statements' parameters are built while the server
        answers, then the statements and COMMIT follow without waiting for any result, and
        leaving the pipeline waits for them all. The id is known (``batch.uncertain_xid``)
        before COMMIT goes out, so a connection lost from then on leaves it to look up.

        Meter values of MeterValues messages go by COPY, which a pipeline cannot carry: then
        the pipeline ends after the statements, and COPY and COMMIT follow it."""
        with conn.pipeline(), conn.cursor() as cur:
            conn.execute(_BEGIN)
            xid = conn.execute(_CURRENT_XID)  # a cursor of its own: read before the statements
            statements, meter_rows = _statements(records)
            batch.uncertain_xid = _current_xid(xid)
            _run(cur, statements)
            if not meter_rows:
                conn.execute(_COMMIT)
        # leaving the pipeline synced it: every statement's result is in (or its error raised)
        if meter_rows:
            with conn.cursor() as cur:
                _copy_meter_values(cur, meter_rows)
            conn.commit()
        batch.uncertain_xid = None


_BEGIN = "BEGIN"
_COMMIT = "COMMIT"
_CURRENT_XID = "SELECT pg_current_xact_id()::text"


def _current_xid(cur: psycopg.Cursor[Any]) -> str:
    row = cur.fetchone()
    assert row is not None
    return str(row[0])


def _apply_group(conn: Connection, group: Sequence[Record]) -> BaseException | None:
    try:
        with conn.transaction():  # a savepoint inside the batch transaction
            _apply(conn, group)
    except psycopg.OperationalError:
        raise
    except Exception as exc:
        if conn.broken:
            raise psycopg.OperationalError(str(exc)) from exc
        log.error(
            "records refused by the database",
            extra={"records": len(group), "kinds": sorted({type(r).__name__ for r in group})},
        )
        return exc
    return None


#: Dependency order: stations before their transactions, transaction events before their meter
#: values (which go last, by COPY). Records of one kind keep their arrival order.
_ORDER = (
    StationUpsert,
    StationPresence,
    EvseStatus,
    TransactionEventRecord,
    CommandAudit,
    SecurityEventRecord,
    DeviceVariableRecord,
    FirmwareStatusRecord,
    V2GEventRecord,
)


def _apply(conn: Connection, records: Sequence[Record]) -> None:
    statements, meter_rows = _statements(records)
    with conn.cursor() as cur:
        _run(cur, statements)
        if meter_rows:
            _copy_meter_values(cur, meter_rows)


#: a statement with its parameters; ``many``: one set of parameters per item (``executemany``)
Statement = tuple[str, Any, bool]


def _statements(records: Sequence[Record]) -> tuple[list[Statement], list[MeterValueRow]]:
    """The statements that write everything but the standalone meter values (those of
    transaction events go with their events), in dependency order; and those meter values, for
    COPY. Nothing is read back, so in a pipeline every statement goes out without waiting."""
    by_kind: dict[type, list[Any]] = {}
    for record in records:
        by_kind.setdefault(type(record), []).append(record)
    meter_rows: list[MeterValueRow] = by_kind.pop(MeterValueRow, [])
    statements: list[Statement] = []
    for kind in _ORDER:
        items = by_kind.pop(kind, None)
        if items:
            statements += _WRITERS[kind](items)
    if by_kind:
        raise TypeError(f"not a storable record: {sorted(k.__name__ for k in by_kind)}")
    return statements, meter_rows


def _run(cur: psycopg.Cursor[Any], statements: list[Statement]) -> None:
    for sql, params, many in statements:
        if many:
            cur.executemany(sql, params)
        else:
            cur.execute(sql, params)


def _write_transaction_events(events: list[TransactionEventRecord]) -> list[Statement]:
    """Upsert the transactions, then insert the events and their meter values in one statement
    (``_sql.INSERT_TRANSACTION_EVENTS``, which makes the meter values' rows from the payload):
    the meter values of an event already stored (a retry) are skipped by the database, and of
    two events with the same key in the batch only the first is sent."""
    first: dict[tuple[str, str, int], TransactionEventRecord] = {}
    for e in events:
        first.setdefault((e.station_id, e.transaction_id, e.seq_no), e)
    rows = [
        (*_event_columns(e), e.payload, _rewritten_meter_value(e.payload.get("meterValue")))
        for e in first.values()
    ]
    statements = _set_based(
        _sql.UPSERT_TRANSACTIONS, _transaction_columns, _transaction_key, events
    )
    statements.append((_sql.INSERT_TRANSACTION_EVENTS, (_rows_json(rows),), False))
    return statements


#: An RFC 3339 date-time that PostgreSQL reads as ``parse_datetime`` does (once the schema check
#: has parsed it): at most microseconds (PostgreSQL rounds further digits, Python cuts them) and
#: the forms both read. ASCII digits only (``\d`` would take any script's).
_SAME_IN_POSTGRES = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
).fullmatch


def _rewritten_meter_value(meter_values: Any) -> list[dict[str, Any]] | None:
    """None when PostgreSQL reads every timestamp of ``meter_values`` (a payload's meterValue) as
    Python does, the usual case; otherwise the meter values with each timestamp as Python reads
    it (nanoseconds, a comma, an offset without colon: forms the schema check accepts), for the
    statement to read in place of the payload's."""
    if not meter_values:
        return None
    for meter_value in meter_values:
        if not _SAME_IN_POSTGRES(meter_value["timestamp"]):
            break
    else:
        return None
    return [{**mv, "timestamp": parse_datetime(mv["timestamp"]).isoformat()} for mv in meter_values]


def _names(columns: tuple[tuple[str, str], ...]) -> Callable[[Any], tuple[Any, ...]]:
    return operator.attrgetter(*(name for name, _ in columns))


_event_columns = _names(_sql.TRANSACTION_EVENT_COLUMNS)
_meter_value_tuple = operator.attrgetter(*_sql.METER_VALUE_COLUMNS)


def _rows_json(rows: list[Any]) -> str:
    """The rows of a set-based statement as its one parameter (a JSON array of arrays):
    timestamps in ISO 8601 with their offset, decimals as strings (read back exactly)."""
    return orjson.dumps(rows, default=_decimal).decode()


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not storable as JSON: {type(value).__name__}")


def _copy_meter_values(cur: psycopg.Cursor[Any], rows: list[MeterValueRow]) -> None:
    with cur.copy(_sql.COPY_METER_VALUES) as copy:
        copy.set_types(_sql.METER_VALUE_TYPES)
        write_row = copy.write_row
        for row in map(_meter_value_tuple, rows):  # attrgetter builds the tuple in C
            write_row(row)


def _set_based(
    sql: str, columns: Callable[[Any], tuple[Any, ...]], key: Callable[[Any], Any], items: list[Any]
) -> list[Statement]:
    """``sql`` taking the items' rows as JSON, once per round: round ``n`` holds the ``n``-th item
    of each key (an upsert may touch a row only once per statement), so items of one key are
    applied in their order, as ``executemany`` would. One statement instead of one per item:
    in a pipeline psycopg polls the socket for every statement it queues, and each poll gives
    the GIL away."""
    rounds: list[list[tuple[Any, ...]]] = []
    seen: dict[Any, int] = {}
    for item in items:
        k = key(item)
        n = seen.get(k, 0)
        seen[k] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(columns(item))
    return [(sql, (_rows_json(rows),), False) for rows in rounds]


_transaction_columns = _names(_sql.TRANSACTION_COLUMNS)
_transaction_key = operator.attrgetter("station_id", "transaction_id")
_evse_columns = _names(_sql.EVSE_COLUMNS)
_evse_key = operator.attrgetter("station_id", "evse_id", "connector_id")


def _execute(sql: str, params: Any) -> Any:
    def write(items: list[Any]) -> list[Statement]:
        return [(sql, [params(item) for item in items], True)]

    return write


def _write_stations(items: list[StationUpsert]) -> list[Statement]:
    created = [attrs.asdict(i) for i in items if i.create]
    updated = [attrs.asdict(i) for i in items if not i.create]
    statements: list[Statement] = []
    if created:
        statements.append((_sql.UPSERT_STATION, created, True))
    if updated:
        statements.append((_sql.UPDATE_STATION, updated, True))
    return statements


_WRITERS: dict[type, Any] = {
    StationUpsert: _write_stations,
    StationPresence: _execute(_sql.UPDATE_PRESENCE, attrs.asdict),
    EvseStatus: lambda items: _set_based(_sql.UPSERT_EVSES, _evse_columns, _evse_key, items),
    TransactionEventRecord: _write_transaction_events,
    CommandAudit: _execute(_sql.UPSERT_COMMAND, _sql.command_params),
    SecurityEventRecord: _execute(_sql.INSERT_SECURITY_EVENT, attrs.asdict),
    DeviceVariableRecord: _execute(_sql.UPSERT_DEVICE_VARIABLE, attrs.asdict),
    FirmwareStatusRecord: _execute(_sql.UPDATE_FIRMWARE_STATUS, attrs.asdict),
    V2GEventRecord: _execute(_sql.INSERT_V2G_EVENT, _sql.v2g_event_params),
}
