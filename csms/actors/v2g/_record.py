"""A session's record: its row and trail stored, and the ``v2g.session.*`` event of the
catalog for it (translation only)."""

from __future__ import annotations

import uuid
from typing import Any

from csms.domain.events import Event, V2GSessionCompleted, V2GSessionStarted, V2GSessionUpdated
from csms.services.v2g_session import SessionState
from csms.storage import Connection
from csms.storage import v2g_sessions as repo
from csms.storage.v2g_sessions import SessionRow

__all__ = ["event_of", "store_record"]


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
        return V2GSessionUpdated(
            **common,
            state=state.state,
            setpoint_kw=row.setpoint_kw,
            last_power_kw=row.last_power_kw,
            last_soc=row.last_soc,
            exported_wh=exported,
        )
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


def store_record(
    conn: Connection, session_id: uuid.UUID, changes: dict[str, Any], kind: str, state: SessionState
) -> SessionRow:
    """The row and one entry of the trail, in one transaction."""
    row = repo.save(conn, session_id, **changes)
    repo.add_event(
        conn,
        session_id,
        at=state.ended_at or state.recorded_at or state.requested_at,
        kind=kind,
        soc_percent=state.last_soc,
        power_w=state.last_power_w,
        energy_exported_wh=row.energy_exported_wh,
        payload={"state": state.state, "endReason": state.end_reason},
    )
    return row
