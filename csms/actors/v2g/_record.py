"""A session's record: its row and trail stored, and the ``v2g.session.*`` event of the
catalog for it (translation only)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from csms.domain.events import Event, V2GSessionCompleted, V2GSessionStarted, V2GSessionUpdated
from csms.services.v2g_session import SessionState
from csms.storage import Connection, v2g_updates
from csms.storage import v2g_sessions as repo
from csms.storage.v2g_sessions import SessionRow

__all__ = [
    "commit_updates",
    "event_of",
    "exported_wh",
    "store_record",
    "store_update",
    "store_updates",
    "updated_event",
]


def event_of(kind: str, row: SessionRow, state: SessionState) -> Event:
    """The event of ``Record(kind, state)`` once ``row`` is stored."""
    common: dict[str, Any] = {
        "session_id": str(row.id),
        "station_id": row.station_id,
        "evse_id": row.evse_id,
        "transaction_id": row.transaction_id,
    }
    exported = float(row.energy_exported_wh)
    if kind == "started":
        return V2GSessionStarted(
            **common,
            user_id=row.user_id,
            requested_by=row.requested_by,
            state=state.state,  # type: ignore[arg-type]
            requested_power_kw=row.requested_power_kw,
            min_soc_percent=float(row.min_soc_percent),
            start_soc=row.start_soc,
            operation_mode=row.operation_mode,
            ends_by=row.window_end_at,
        )
    if kind == "updated":
        return updated_event(state)
    assert row.ended_at is not None
    assert row.end_reason is not None
    return V2GSessionCompleted(
        **common,
        user_id=row.user_id,
        state="failed" if row.state == "failed" else "completed",
        end_reason=row.end_reason,
        started_at=row.started_at,
        ended_at=row.ended_at,
        exported_wh=exported,
        start_soc=row.start_soc,
        last_soc=row.last_soc,
    )


def updated_event(state: SessionState, node_id: str = "") -> V2GSessionUpdated:
    """``v2g.session.updated`` from the state alone: what its row would say once stored;
    ``node_id`` given, the bus publishes it without a stamped copy (one a reading)."""
    return V2GSessionUpdated(
        node_id=node_id,
        session_id=state.session_id,
        station_id=state.station_id,
        evse_id=state.evse_id,
        transaction_id=state.transaction_id,
        state=state.state,
        setpoint_kw=_kw(state.setpoint_w),
        last_power_kw=_kw(state.last_power_w),
        last_soc=None if state.last_soc is None else float(state.last_soc),
        exported_wh=float(exported_wh(state)),
    )


def exported_wh(state: SessionState) -> Decimal:
    """The session's ``energy_exported_wh``: the register only grows, and a station that reset
    it mid-session must not break the row."""
    return max(state.exported_wh, _ZERO)


def store_record(
    conn: Connection, session_id: uuid.UUID, changes: dict[str, Any], kind: str, state: SessionState
) -> SessionRow:
    """The row and one entry of the trail, in one transaction."""
    row = repo.save(conn, session_id, **changes)
    _trail(conn, session_id, kind, state, row.energy_exported_wh)
    return row


def store_update(
    conn: Connection, session_id: uuid.UUID, changes: dict[str, Any], state: SessionState
) -> None:
    """``store_record`` of an ``updated`` record, without reading the row back."""
    repo.update(conn, session_id, **changes)
    _trail(conn, session_id, "updated", state, exported_wh(state))


def store_updates(
    conn: Connection, records: list[tuple[uuid.UUID, dict[str, Any], SessionState]]
) -> None:
    """``store_update`` of every record, in one statement when they change the same columns of
    distinct sessions (as ``row_of`` records do), else one by one."""
    if not _one_statement(records):
        for session_id, changes, state in records:
            store_update(conn, session_id, changes, state)
        return
    v2g_updates.update_many(conn, *_batch(records))


def commit_updates(
    conn: Connection, records: list[tuple[uuid.UUID, dict[str, Any], SessionState]]
) -> None:
    """``store_updates`` and its COMMIT, in one round trip when the records make one
    statement (``v2g_updates.commit_many``); the record writer's call."""
    if not _one_statement(records):
        store_updates(conn, records)
        conn.commit()
        return
    v2g_updates.commit_many(conn, *_batch(records))


def _one_statement(records: list[tuple[uuid.UUID, dict[str, Any], SessionState]]) -> bool:
    """Whether the records change the same columns of distinct sessions (as ``row_of``
    records do)."""
    names = list(records[0][1])
    return len({r[0] for r in records}) == len(records) and all(
        list(r[1]) == names for r in records
    )


def _batch(
    records: list[tuple[uuid.UUID, dict[str, Any], SessionState]],
) -> tuple[list[tuple[uuid.UUID, dict[str, Any]]], list[v2g_updates.Entry]]:
    return (
        [(session_id, changes) for session_id, changes, _ in records],
        [_entry(sid, "updated", state, exported_wh(state)) for sid, _, state in records],
    )


def _entry(
    session_id: uuid.UUID, kind: str, state: SessionState, exported: Decimal
) -> v2g_updates.Entry:
    return v2g_updates.Entry(
        session_id,
        at=state.ended_at or state.recorded_at or state.requested_at,
        kind=kind,
        soc_percent=state.last_soc,
        power_w=state.last_power_w,
        energy_exported_wh=exported,
        payload={"state": state.state, "endReason": state.end_reason},
    )


def _trail(
    conn: Connection, session_id: uuid.UUID, kind: str, state: SessionState, exported: Decimal
) -> None:
    e = _entry(session_id, kind, state, exported)
    repo.add_event(
        conn,
        session_id,
        at=e.at,
        kind=kind,
        soc_percent=e.soc_percent,
        power_w=e.power_w,
        energy_exported_wh=exported,
        payload=e.payload,
    )


_ZERO = Decimal(0)
_KW = Decimal(1000)


def _kw(watts: Decimal | None) -> float | None:
    return None if watts is None else float(watts / _KW)
