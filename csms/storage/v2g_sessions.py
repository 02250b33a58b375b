"""Discharge sessions as their actors keep them (``csms/actors/v2g``): the row of each session,
its trail of events (``v2g_events``), the sessions to resume after a node restart, and what a
start is decided from (the EVSE's transaction, its user, the last state of charge).

Power in W, energy in Wh, SoC in percent. The session actor is the only writer of its row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from . import v2g
from ._connect import Connection
from ._errors import NotFound, StorageError

__all__ = [
    "ACTIVE_STATES",
    "Claimed",
    "EvseTransaction",
    "NewSession",
    "SessionActive",
    "SessionRow",
    "active",
    "add_event",
    "claim",
    "create",
    "cycles_since",
    "events",
    "evse_transaction",
    "get",
    "held_elsewhere",
    "list_sessions",
    "release",
    "save",
    "transaction_active",
    "update",
]

ACTIVE_STATES = ("requested", "negotiating", "starting", "discharging", "stopping")


class SessionActive(StorageError):
    """The EVSE already has an active discharge session."""


@attrs.frozen
class SessionRow(v2g.SessionRow):
    """A session's row: ``v2g.SessionRow`` (migration 0004) with the columns of migration 0010.
    ``target_power_w`` is the power asked for, ``soc_percent`` the last SoC reported,
    ``window_end_at`` when the session stops at the latest (duration or window)."""

    ocpp_version: str
    #: The discharge power commanded now (positive), W.
    setpoint_w: Decimal | None
    last_power_w: Decimal | None
    export_first_wh: Decimal | None
    export_last_wh: Decimal | None
    operation_mode: str | None
    profile_kind: str | None
    policy_state: dict[str, Any]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    # The REST API's and the events' units: kW for power, plain numbers.

    @property
    def requested_power_kw(self) -> float:
        return float(self.target_power_w / _KW)

    @property
    def setpoint_kw(self) -> float | None:
        return _kw(self.setpoint_w)

    @property
    def last_power_kw(self) -> float | None:
        return _kw(self.last_power_w)

    @property
    def start_soc(self) -> float | None:
        return _number(self.start_soc_percent)

    @property
    def last_soc(self) -> float | None:
        return _number(self.soc_percent)


_KW = Decimal(1000)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _kw(watts: Decimal | None) -> float | None:
    return None if watts is None else float(watts / _KW)


@attrs.frozen
class NewSession:
    """What a session starts with."""

    station_id: str
    evse_id: int
    requested_by: str
    target_power_w: Decimal
    min_soc_percent: Decimal
    ocpp_version: str
    state: str = "requested"
    transaction_id: str | None = None
    user_id: str | None = None
    ev_id: str | None = None
    start_soc_percent: Decimal | None = None
    window_end_at: dt.datetime | None = None
    operation_mode: str | None = None
    profile_kind: str | None = None
    profile_id: int | None = None
    setpoint_w: Decimal | None = None
    policy_state: dict[str, Any] = attrs.field(factory=dict)
    id: uuid.UUID = attrs.field(factory=uuid.uuid4)
    #: The node that runs it (migration 0017).
    node_id: str | None = None


_COLUMNS = ", ".join(a.name for a in attrs.fields(SessionRow))
_NEW = tuple(a.name for a in attrs.fields(NewSession))


def create(conn: Connection, new: NewSession) -> SessionRow:
    """Insert a session; ``SessionActive`` when its EVSE has an active one already."""
    values = attrs.asdict(new, recurse=False)
    values["soc_percent"] = new.start_soc_percent
    values["policy_state"] = Jsonb(new.policy_state)
    names = (*_NEW, "soc_percent")
    try:
        with conn.cursor(row_factory=class_row(SessionRow)) as cur:
            cur.execute(
                f"INSERT INTO v2g_sessions ({', '.join(names)}) VALUES ("
                + ", ".join(f"%({n})s" for n in names)
                + f") RETURNING {_COLUMNS}",
                values,
            )
            row = cur.fetchone()
    except psycopg.errors.UniqueViolation:
        raise SessionActive(
            f"EVSE {new.evse_id} of {new.station_id!r} has an active discharge session"
        ) from None
    assert row is not None
    return row


_SAVABLE = frozenset(
    {
        "state",
        "transaction_id",
        "start_soc_percent",
        "soc_percent",
        "energy_exported_wh",
        "profile_id",
        "window_end_at",
        "started_at",
        "ended_at",
        "end_reason",
        "target_power_w",
        "setpoint_w",
        "last_power_w",
        "export_first_wh",
        "export_last_wh",
        "operation_mode",
        "profile_kind",
        "policy_state",
    }
)


def _assignments(session_id: uuid.UUID, changes: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``SET`` list and parameters of an update of the named columns."""
    unknown = set(changes) - _SAVABLE
    if unknown or not changes:
        raise ValueError(f"cannot save session fields {sorted(unknown) or '(none given)'}")
    if "policy_state" in changes:
        changes["policy_state"] = Jsonb(changes["policy_state"])
    assignments = ", ".join(f"{name} = %({name})s" for name in changes)
    return f"{assignments}, updated_at = now()", {**changes, "id": session_id}


def save(conn: Connection, session_id: uuid.UUID, /, **changes: Any) -> SessionRow:
    """Change the named columns of a session and return the row as stored."""
    assignments, params = _assignments(session_id, changes)
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"UPDATE v2g_sessions SET {assignments} WHERE id = %(id)s RETURNING {_COLUMNS}",
            params,
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no V2G session {session_id}")
    return row


def update(conn: Connection, session_id: uuid.UUID, /, **changes: Any) -> None:
    """``save`` without reading the row back: a running session's frequent writes (its
    readings), which need nothing of it."""
    assignments, params = _assignments(session_id, changes)
    cur = conn.execute(f"UPDATE v2g_sessions SET {assignments} WHERE id = %(id)s", params)
    if cur.rowcount == 0:
        raise NotFound(f"no V2G session {session_id}")


def get(conn: Connection, session_id: uuid.UUID | str) -> SessionRow | None:
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM v2g_sessions WHERE id = %s", (session_id,))
        return cur.fetchone()


def active(conn: Connection) -> list[SessionRow]:
    """The sessions that have not ended, oldest first (resumed after a node restart)."""
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM v2g_sessions WHERE state = ANY(%s) ORDER BY created_at",
            (list(ACTIVE_STATES),),
        )
        return cur.fetchall()


#: The running nodes: each holds its liveness connection, named after it (``csms.storage.nodes``).
_ALIVE = (
    "alive AS (SELECT substr(application_name, 11) AS node FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name LIKE 'csms-node:%%')"
)


@attrs.frozen
class Claimed:
    """What a node's claim got: the sessions it now runs (id, station), and the stations
    asked about whose active sessions another live node still runs."""

    sessions: list[tuple[uuid.UUID, str]]
    held: list[str]


def claim(
    conn: Connection, node_id: str, station_ids: list[str] | None, *, again: bool = True
) -> Claimed:
    """Make ``node_id`` the runner of the active sessions no other live node runs (SPEC
    sections 6 and 9): those of ``station_ids`` (stations that connected to it), or with None
    those whose station no other live node holds (a node's start; ``again=False``: only the
    sessions no node runs, not those it runs already)."""
    free = "(s.node_id IS NULL OR s.node_id NOT IN (SELECT node FROM alive))"
    # without its liveness connection (one node, no NATS) a node counts as not running
    owner = (
        f"(s.node_id = %(me)s OR {free})"
        if again
        else f"(s.node_id IS DISTINCT FROM %(me)s AND {free})"
    )
    where = (
        "s.station_id = ANY(%(stations)s)"
        if station_ids is not None
        else "NOT EXISTS (SELECT 1 FROM stations st WHERE st.id = s.station_id"
        " AND st.node_id <> %(me)s AND st.node_id IN (SELECT node FROM alive))"
    )
    params = {"me": node_id, "states": list(ACTIVE_STATES), "stations": station_ids}
    rows = conn.execute(
        f"WITH {_ALIVE} UPDATE v2g_sessions s SET node_id = %(me)s"
        f" WHERE s.state = ANY(%(states)s) AND {owner} AND {where}"
        " RETURNING s.id, s.station_id",
        params,
    ).fetchall()
    held: list[str] = []
    if station_ids is not None:
        held = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT station_id FROM v2g_sessions WHERE station_id = ANY(%(stations)s)"
                " AND state = ANY(%(states)s) AND node_id <> %(me)s",
                params,
            ).fetchall()
        ]
    return Claimed([(r[0], r[1]) for r in rows], held)


def release(conn: Connection, node_id: str, session_ids: list[uuid.UUID]) -> None:
    """``node_id`` runs these sessions no more (their actors have stopped)."""
    conn.execute(
        "UPDATE v2g_sessions SET node_id = NULL WHERE id = ANY(%s) AND node_id = %s",
        (session_ids, node_id),
    )


def held_elsewhere(conn: Connection, node_id: str, station_ids: list[str]) -> set[str]:
    """Those of ``station_ids`` whose presence names another live node."""
    rows = conn.execute(
        f"WITH {_ALIVE} SELECT id FROM stations WHERE id = ANY(%s) AND node_id <> %s"
        " AND node_id IN (SELECT node FROM alive)",
        (station_ids, node_id),
    ).fetchall()
    return {r[0] for r in rows}


def list_sessions(
    conn: Connection,
    *,
    active: bool | None = None,
    station_id: str | None = None,
    user_id: str | None = None,
    limit: int = 100,
) -> list[SessionRow]:
    """Sessions, newest first."""
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM v2g_sessions"
            " WHERE (%(active)s::boolean IS NULL OR (state = ANY(%(states)s)) = %(active)s)"
            " AND (%(station)s::text IS NULL OR station_id = %(station)s)"
            " AND (%(user)s::text IS NULL OR user_id = %(user)s)"
            " ORDER BY created_at DESC, id LIMIT %(limit)s",
            {
                "active": active,
                "states": list(ACTIVE_STATES),
                "station": station_id,
                "user": user_id,
                "limit": limit,
            },
        )
        return cur.fetchall()


def add_event(
    conn: Connection,
    session_id: uuid.UUID,
    *,
    at: dt.datetime,
    kind: str,
    soc_percent: Decimal | None = None,
    power_w: Decimal | None = None,
    energy_exported_wh: Decimal | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """One entry of a session's trail (``v2g_events``)."""
    conn.execute(
        "INSERT INTO v2g_events (session_id, at, kind, soc_percent, power_w,"
        " energy_exported_wh, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (session_id, at, kind, soc_percent, power_w, energy_exported_wh, Jsonb(payload or {})),
    )


def events(conn: Connection, session_id: uuid.UUID) -> list[tuple[dt.datetime, str]]:
    """The kinds of a session's trail, in time order."""
    rows = conn.execute(
        "SELECT at, kind FROM v2g_events WHERE session_id = %s ORDER BY at, id", (session_id,)
    ).fetchall()
    return [(at, kind) for at, kind in rows]


@attrs.frozen
class EvseTransaction:
    """The active transaction on an EVSE, as a discharge start needs it."""

    transaction_id: str
    evse_id: int
    id_token: str | None
    #: The user the transaction's id token is linked to, if any.
    user_id: str | None
    #: The last state of charge reported for the transaction, %.
    soc_percent: Decimal | None
    #: The last export register reading for the transaction, Wh.
    export_register_wh: Decimal | None


def evse_transaction(
    conn: Connection, station_id: str, evse_id: int | None
) -> list[EvseTransaction]:
    """The station's active transactions (on ``evse_id``, when given), newest first."""
    rows = conn.execute(
        "SELECT t.transaction_id, t.evse_id, t.id_token,"
        " (SELECT i.user_id FROM id_tokens i WHERE lower(i.id_token) = lower(t.id_token)"
        "   AND i.user_id IS NOT NULL ORDER BY (i.type = t.id_token_type) DESC LIMIT 1),"
        " (SELECT m.value FROM meter_values m WHERE m.station_id = t.station_id"
        "   AND m.transaction_id = t.transaction_id AND m.measurand = 'SoC'"
        "   AND m.timestamp >= t.started_at ORDER BY m.timestamp DESC LIMIT 1),"
        " (SELECT m.value FROM meter_values m WHERE m.station_id = t.station_id"
        "   AND m.transaction_id = t.transaction_id"
        "   AND m.measurand = 'Energy.Active.Export.Register'"
        "   AND m.timestamp >= t.started_at ORDER BY m.timestamp DESC LIMIT 1)"
        " FROM transactions t WHERE t.station_id = %s AND t.state = 'Active'"
        " AND t.evse_id IS NOT NULL AND (%s::integer IS NULL OR t.evse_id = %s)"
        " ORDER BY t.started_at DESC",
        (station_id, evse_id, evse_id),
    ).fetchall()
    return [EvseTransaction(*row) for row in rows]


def cycles_since(conn: Connection, user_id: str, since: dt.datetime) -> int:
    """Discharge sessions of ``user_id`` created since ``since`` (its cycles of the day)."""
    row = conn.execute(
        "SELECT count(*) FROM v2g_sessions WHERE user_id = %s AND created_at >= %s"
        " AND started_at IS NOT NULL",
        (user_id, since),
    ).fetchone()
    assert row is not None
    return int(row[0])


def transaction_active(conn: Connection, station_id: str, transaction_id: str) -> bool:
    """Whether the station's transaction is still active (a resumed session's check)."""
    row = conn.execute(
        "SELECT 1 FROM transactions WHERE station_id = %s AND transaction_id = %s"
        " AND state = 'Active'",
        (station_id, transaction_id),
    ).fetchone()
    return row is not None
