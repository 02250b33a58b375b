"""The discharge sessions' frequent writes in batches: the rows of several running sessions and
their trail entries in one statement (``csms/actors/v2g/_writer.py``), one round trip a batch
instead of two statements a record."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from decimal import Decimal
from typing import Any

import attrs
import orjson
import psycopg
from psycopg.types.json import Jsonb

from ._connect import Connection
from ._errors import NotFound
from .v2g_sessions import _SAVABLE

__all__ = ["Entry", "commit_many", "update_many"]

# The column types of the savable columns: the rows of ``update_many`` come as parameters,
# whose NULLs PostgreSQL cannot type by itself.
_TYPES = {
    "state": "text",
    "transaction_id": "text",
    "start_soc_percent": "numeric",
    "soc_percent": "numeric",
    "energy_exported_wh": "numeric",
    "profile_id": "integer",
    "window_end_at": "timestamptz",
    "started_at": "timestamptz",
    "ended_at": "timestamptz",
    "end_reason": "text",
    "target_power_w": "numeric",
    "setpoint_w": "numeric",
    "last_power_w": "numeric",
    "export_first_wh": "numeric",
    "export_last_wh": "numeric",
    "operation_mode": "text",
    "profile_kind": "text",
    "policy_state": "jsonb",
}
_EVENT = "(%s::uuid, %s::timestamptz, %s::text, %s::numeric, %s::numeric, %s::numeric, %s::jsonb)"


@attrs.frozen
class Entry:
    """One entry of a session's trail, as ``add_event`` takes it."""

    session_id: uuid.UUID
    at: dt.datetime
    kind: str
    soc_percent: Decimal | None = None
    power_w: Decimal | None = None
    energy_exported_wh: Decimal | None = None
    payload: dict[str, Any] | None = None


def update_many(
    conn: Connection, updates: list[tuple[uuid.UUID, dict[str, Any]]], trail: list[Entry]
) -> None:
    """``update`` of each session (the same columns each, a session once) and ``add_event`` of
    each entry, in one statement: the sessions' frequent writes cost one round trip a batch
    instead of two statements a record. ``NotFound`` when a session is missing (nothing is
    written then: the caller's transaction rolls back)."""
    sql, params = _statement(updates, trail)
    try:
        cur = conn.execute(sql, params)
    except psycopg.errors.ForeignKeyViolation:
        # a trail entry of a missing session (its row was not updated)
        raise NotFound("no V2G session for an entry of the batch") from None
    found = cur.fetchone()
    if found is None or found[0] != len(updates):
        raise NotFound("no V2G session for a row of the batch")


def commit_many(
    conn: Connection, updates: list[tuple[uuid.UUID, dict[str, Any]]], trail: list[Entry]
) -> None:
    """``update_many`` and COMMIT in one pipeline: BEGIN, the statement and COMMIT go out
    together, one round trip (each round trip is a poll and a GIL hand-over on the worker
    thread, and the sessions' batches are mostly of one record). Every session of ``updates``
    must have an entry in ``trail``: a missing session then fails the entry's foreign key
    (``NotFound``) and nothing is committed; the row count is not read back before COMMIT."""
    if {e.session_id for e in trail} != {session_id for session_id, _ in updates}:
        raise ValueError("commit_many: each session of the batch needs a trail entry")
    by_session = {e.session_id: e for e in trail}
    try:
        with conn.pipeline():
            start = 0
            for size in _chunks(len(updates)):
                rows = updates[start : start + size]
                start += size
                conn.execute(*_statement(rows, [by_session[session_id] for session_id, _ in rows]))
            conn.commit()
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("no V2G session for an entry of the batch") from None


def _chunks(n: int) -> list[int]:
    """``n`` rows as statements of a power of two rows each (37: 32, 4, 1): a few statement
    texts in all, each prepared and cached once, rather than one text (of up to a few
    kilobytes, kept in psycopg's caches) for every batch size that ever occurs. In a pipeline
    the extra statements cost no round trip."""
    return [1 << bit for bit in range(n.bit_length() - 1, -1, -1) if n >> bit & 1]


def _statement(
    updates: list[tuple[uuid.UUID, dict[str, Any]]], trail: list[Entry]
) -> tuple[str, list[Any]]:
    names = list(updates[0][1])
    if any(list(changes) != names for _, changes in updates) or not set(names) <= _SAVABLE:
        raise ValueError("update_many: every row must change the same savable columns")
    if len({session_id for session_id, _ in updates}) != len(updates) or not trail:
        raise ValueError("update_many: each session once, and at least one trail entry")
    params: list[Any] = []
    for session_id, changes in updates:
        params.append(session_id)
        params.extend(_json(changes[n]) if n == "policy_state" else changes[n] for n in names)
    for e in trail:
        params.extend((e.session_id, e.at, e.kind, e.soc_percent, e.power_w, e.energy_exported_wh))
        params.append(_json(e.payload or {}))
    return _sql(tuple(names), len(updates), len(trail)), params


def _json(value: Any) -> Jsonb:
    # orjson: the policy state is serialized at every record of every session, in C here
    # rather than by the json module (its values are strings, numbers and None already)
    return Jsonb(value, dumps=orjson.dumps)


@functools.lru_cache(maxsize=32)
def _sql(names: tuple[str, ...], rows: int, entries: int) -> str:
    """The statement for a batch's shape, built once (and the same text each time, which
    psycopg prepares once it has been run a few times)."""
    row = "(%s::uuid, " + ", ".join(f"%s::{_TYPES[n]}" for n in names) + ")"
    return (
        f"WITH v (id, {', '.join(names)}) AS (VALUES {', '.join([row] * rows)}),"
        " u AS (UPDATE v2g_sessions s SET "
        + ", ".join(f"{n} = v.{n}" for n in names)
        + ", updated_at = now() FROM v WHERE s.id = v.id RETURNING s.id),"
        " e AS (INSERT INTO v2g_events (session_id, at, kind, soc_percent, power_w,"
        f" energy_exported_wh, payload) VALUES {', '.join([_EVENT] * entries)} RETURNING 1)"
        " SELECT (SELECT count(*) FROM u)"
    )
