"""The blocking half of the persistence actor: write one batch of records in one transaction.

A batch is a list of *groups*, one per writer request; a group is stored whole or not at all.

- Meter values go in with binary COPY, everything else with ``executemany`` (pipelined).
- A data error (constraint, bad value) in the batch rolls it back and replays it with one savepoint
  per group: the bad groups get their error back, the good ones are committed. That replay is
  the slow path, for a genuinely bad record only; ``Batch.replayed`` says it was taken, and the
  persistence actor counts both paths (``/metrics``).
- In pipeline mode a cursor collects the results of *every* statement it queued that have not
  been read yet, so a statement whose rows are read (``RETURNING``) gets a cursor of its own:
  shared with an earlier ``executemany``, the first "result" read would be that statement's
  ``UPDATE 1``.
- A connection error is transient: the caller keeps the batch and calls ``write`` again later.
  When the connection died during COMMIT the outcome is unknown; the transaction id taken before
  committing is looked up on the next attempt (``pg_xact_status``), so a committed batch is never
  written twice and an aborted one is never reported as stored.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from typing import Any

import attrs
import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps

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
            conn = connect(self.url, connect_timeout=self._connect_timeout)
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
            xid = self._apply_batch(conn, [r for group in batch.groups for r in group])
            results: list[BaseException | None] = [None] * len(batch.groups)
        except psycopg.OperationalError:
            raise
        except Exception as exc:  # data error: find the bad groups
            if conn.broken:
                raise psycopg.OperationalError(str(exc)) from exc
            conn.rollback()
            batch.replayed = True
            log.warning(
                "batch refused, retrying group by group",
                extra={"groups": len(batch.groups), "error": str(exc)},
            )
            xid = _current_xid(conn.execute(_CURRENT_XID))
            results = [_apply_group(conn, group) for group in batch.groups]
        batch.uncertain_xid = xid
        conn.commit()
        batch.uncertain_xid = None
        return results

    @staticmethod
    def _apply_batch(conn: Connection, records: Sequence[Record]) -> str:
        """Write ``records`` in the open transaction; return its id. BEGIN, the id and the
        statements go out as one pipeline (one round trip to the server instead of one each);
        meter values follow with COPY, which a pipeline cannot carry."""
        with conn.pipeline(), conn.cursor() as cur:
            xid = conn.execute(_CURRENT_XID)  # a cursor of its own, read after the pipeline
            meter_rows = _apply_statements(cur, records)
        # leaving the pipeline synced it: every result is in, so xid can be read
        if meter_rows:
            with conn.cursor() as cur:
                _copy_meter_values(cur, meter_rows)
        return _current_xid(xid)


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
    with conn.cursor() as cur:
        meter_rows = _apply_statements(cur, records)
        if meter_rows:
            _copy_meter_values(cur, meter_rows)


def _apply_statements(cur: psycopg.Cursor[Any], records: Sequence[Record]) -> list[MeterValueRow]:
    """Write everything but meter values; return those (given, and of the transaction events
    that are new), for COPY."""
    by_kind: dict[type, list[Any]] = {}
    for record in records:
        by_kind.setdefault(type(record), []).append(record)
    meter_rows: list[MeterValueRow] = by_kind.pop(MeterValueRow, [])
    for kind in _ORDER:
        items = by_kind.pop(kind, None)
        if not items:
            continue
        if kind is TransactionEventRecord:
            meter_rows.extend(_write_transaction_events(cur, items))
        else:
            _WRITERS[kind](cur, items)
    if by_kind:
        raise TypeError(f"not a storable record: {sorted(k.__name__ for k in by_kind)}")
    return meter_rows


def _write_transaction_events(
    cur: psycopg.Cursor[Any], events: list[TransactionEventRecord]
) -> list[MeterValueRow]:
    """Upsert the transactions, insert the events once; return the meter values of the events
    that are new (those of a retried event are already stored)."""
    cur.executemany(_sql.UPSERT_TRANSACTION, [_sql.transaction_params(e) for e in events])
    new: set[tuple[str, str, int]] = set()
    # Its own cursor: in a pipeline, ``cur`` would also hand back the upserts' results (above).
    # ``executemany(returning=True)`` has fetched every result set when it returns.
    with cur.connection.cursor() as inserted:
        inserted.executemany(
            _sql.INSERT_TRANSACTION_EVENT,
            [_sql.transaction_event_params(e, Jsonb(e.payload)) for e in events],
            returning=True,
        )
        while True:
            row = inserted.fetchone()
            if row is not None:
                new.add((row[0], row[1], row[2]))
            if not inserted.nextset():
                break
    rows: list[MeterValueRow] = []
    for e in events:
        if (e.station_id, e.transaction_id, e.seq_no) in new:
            rows.extend(e.meter_values)
    return rows


_meter_value_tuple = operator.attrgetter(*_sql.METER_VALUE_COLUMNS)


def _copy_meter_values(cur: psycopg.Cursor[Any], rows: list[MeterValueRow]) -> None:
    with cur.copy(_sql.COPY_METER_VALUES) as copy:
        copy.set_types(_sql.METER_VALUE_TYPES)
        write_row = copy.write_row
        for row in map(_meter_value_tuple, rows):  # attrgetter builds the tuple in C
            write_row(row)


def _execute(sql: str, params: Any) -> Any:
    def write(cur: psycopg.Cursor[Any], items: list[Any]) -> None:
        cur.executemany(sql, [params(item) for item in items])

    return write


def _write_stations(cur: psycopg.Cursor[Any], items: list[StationUpsert]) -> None:
    created = [attrs.asdict(i) for i in items if i.create]
    updated = [attrs.asdict(i) for i in items if not i.create]
    if created:
        cur.executemany(_sql.UPSERT_STATION, created)
    if updated:
        cur.executemany(_sql.UPDATE_STATION, updated)


_WRITERS: dict[type, Any] = {
    StationUpsert: _write_stations,
    StationPresence: _execute(_sql.UPDATE_PRESENCE, attrs.asdict),
    EvseStatus: _execute(_sql.UPSERT_EVSE, attrs.asdict),
    CommandAudit: _execute(_sql.UPSERT_COMMAND, _sql.command_params),
    SecurityEventRecord: _execute(_sql.INSERT_SECURITY_EVENT, attrs.asdict),
    DeviceVariableRecord: _execute(_sql.UPSERT_DEVICE_VARIABLE, attrs.asdict),
    FirmwareStatusRecord: _execute(_sql.UPDATE_FIRMWARE_STATUS, attrs.asdict),
    V2GEventRecord: _execute(_sql.INSERT_V2G_EVENT, _sql.v2g_event_params),
}
