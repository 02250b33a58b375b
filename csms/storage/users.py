"""Users (the people behind id tokens: a display name, the wallet compensation is paid to)
and their V2G preferences.

A user owns any number of id tokens (``id_tokens.user_id``); the V2G policy finds a session's
user, and so its preferences, through the token that authorized it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from csms.services.v2g_preferences import DAY_NAMES, DischargeWindow, V2GPreferences

from ._connect import Connection
from ._errors import NotFound
from .tokens import IdTokenRow

__all__ = [
    "LinkResult",
    "PreferencesRow",
    "UserRow",
    "create_user",
    "get_preferences",
    "get_user",
    "link_id_token",
    "list_users",
    "preferences_of_id_token",
    "upsert_preferences",
]


def _pairs(pairs: list[list[str]]) -> list[tuple[str, str]]:
    """The JSON arrays of the query as tuples."""
    return [(value, type_) for value, type_ in pairs]


@attrs.frozen
class UserRow:
    user_id: str
    name: str
    wallet_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: The user's id tokens: ``(id_token, type)`` pairs in token order.
    id_tokens: list[tuple[str, str]] = attrs.field(converter=_pairs)


_TOKEN_COLUMNS = "id_token, type, status, expires_at, group_id, user_id"


_SELECT = (
    "SELECT u.user_id, u.name, u.wallet_id, u.created_at, u.updated_at,"
    " coalesce((SELECT jsonb_agg(jsonb_build_array(t.id_token, t.type) ORDER BY t.id_token, t.type)"
    " FROM id_tokens t WHERE t.user_id = u.user_id), '[]') AS id_tokens FROM users u"
)


def create_user(
    conn: Connection, user_id: str, name: str, *, wallet_id: str | None = None
) -> UserRow:
    """A new user. Raises ``psycopg.errors.UniqueViolation`` if the id is taken."""
    conn.execute(
        "INSERT INTO users (user_id, name, wallet_id) VALUES (%s, %s, %s)",
        (user_id, name, wallet_id),
    )
    row = get_user(conn, user_id)
    assert row is not None
    return row


def get_user(conn: Connection, user_id: str) -> UserRow | None:
    with conn.cursor(row_factory=class_row(UserRow)) as cur:
        cur.execute(_SELECT + " WHERE u.user_id = %s", (user_id,))
        return cur.fetchone()


def list_users(conn: Connection, *, after: str | None = None, limit: int = 100) -> list[UserRow]:
    """A page of users in id order; ``after`` is the last id of the previous page."""
    with conn.cursor(row_factory=class_row(UserRow)) as cur:
        cur.execute(
            _SELECT + " WHERE (%(after)s::text IS NULL OR u.user_id > %(after)s)"
            " ORDER BY u.user_id LIMIT %(limit)s",
            {"after": after, "limit": limit},
        )
        return cur.fetchall()


@attrs.frozen
class LinkResult:
    """What ``link_id_token`` found: the token as stored (None: no such token), and the user it
    was linked to before (None: nobody)."""

    token: IdTokenRow | None
    previous_user_id: str | None


def link_id_token(conn: Connection, user_id: str, id_token: str, type: str) -> LinkResult:
    """Link the token (matched case-insensitively, as OCPP requires) to ``user_id`` unless it
    belongs to another user already; the caller tells the cases apart from the result. Raises
    ``NotFound`` when there is no such user."""
    if conn.execute("SELECT 1 FROM users WHERE user_id = %s", (user_id,)).fetchone() is None:
        raise NotFound(f"no user {user_id!r}")
    with conn.cursor(row_factory=class_row(IdTokenRow)) as cur:
        cur.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM id_tokens"
            " WHERE lower(id_token) = lower(%s) AND type = %s ORDER BY id_token LIMIT 1"
            " FOR UPDATE",
            (id_token, type),
        )
        row = cur.fetchone()
    if row is None or row.user_id not in (None, user_id):
        return LinkResult(row, None if row is None else row.user_id)
    if row.user_id is None:
        conn.execute(
            "UPDATE id_tokens SET user_id = %s, updated_at = now() WHERE id_token = %s"
            " AND type = %s",
            (user_id, row.id_token, row.type),
        )
    return LinkResult(attrs.evolve(row, user_id=user_id), row.user_id)


# -- V2G preferences ---------------------------------------------------------------------------


@attrs.frozen
class PreferencesRow:
    """A user's discharge preferences as stored (the wallet is the user's, in ``users``)."""

    user_id: str
    opted_in: bool
    min_soc_percent: Decimal
    max_discharge_power_w: Decimal
    #: ``[{"days": ["Mon", ...], "start": "HH:MM", "end": "HH:MM"}]``, local time; [] = any time
    allowed_windows: list[dict[str, Any]]
    max_cycles_per_day: int
    departure_energy_wh: Decimal | None
    departure_time: dt.time | None
    updated_at: dt.datetime

    @property
    def preferences(self) -> V2GPreferences:
        """As the V2G policy reads them."""
        return V2GPreferences(
            user_id=self.user_id,
            opt_in=self.opted_in,
            min_soc_percent=self.min_soc_percent,
            max_discharge_w=self.max_discharge_power_w,
            windows=tuple(_window(w) for w in self.allowed_windows),
            max_cycles_per_day=self.max_cycles_per_day,
            departure_energy_wh=self.departure_energy_wh,
            departure_time=self.departure_time,
        )


def _window(stored: dict[str, Any]) -> DischargeWindow:
    return DischargeWindow(
        frozenset(DAY_NAMES.index(day) for day in stored["days"]),
        dt.time.fromisoformat(stored["start"]),
        dt.time.fromisoformat(stored["end"]),
    )


def _fields(cls: type, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + a.name for a in attrs.fields(cls))


def upsert_preferences(conn: Connection, prefs: V2GPreferences) -> PreferencesRow:
    """Store a user's preferences (replacing earlier ones); the stored row. Raises
    ``psycopg.errors.ForeignKeyViolation`` when there is no such user."""
    values = {
        "user_id": prefs.user_id,
        "opted_in": prefs.opt_in,
        "min_soc_percent": prefs.min_soc_percent,
        "max_discharge_power_w": prefs.max_discharge_w,
        "allowed_windows": Jsonb([w.to_json() for w in prefs.windows]),
        "max_cycles_per_day": prefs.max_cycles_per_day,
        "departure_energy_wh": prefs.departure_energy_wh,
        "departure_time": prefs.departure_time,
    }
    with conn.cursor(row_factory=class_row(PreferencesRow)) as cur:
        cur.execute(
            f"INSERT INTO v2g_preferences ({', '.join(values)}) VALUES ("
            + ", ".join(f"%({a})s" for a in values)
            + ") ON CONFLICT (user_id) DO UPDATE SET "
            + ", ".join(f"{a} = EXCLUDED.{a}" for a in values if a != "user_id")
            + f", updated_at = now() RETURNING {_fields(PreferencesRow)}",
            values,
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get_preferences(conn: Connection, user_id: str) -> PreferencesRow | None:
    with conn.cursor(row_factory=class_row(PreferencesRow)) as cur:
        cur.execute(
            f"SELECT {_fields(PreferencesRow)} FROM v2g_preferences WHERE user_id = %s",
            (user_id,),
        )
        return cur.fetchone()


def preferences_of_id_token(conn: Connection, id_token: str, type: str) -> PreferencesRow | None:
    """The preferences of the user owning the token (value matched case-insensitively)."""
    with conn.cursor(row_factory=class_row(PreferencesRow)) as cur:
        cur.execute(
            f"SELECT {_fields(PreferencesRow, 'p')} FROM id_tokens t"
            " JOIN v2g_preferences p ON p.user_id = t.user_id"
            " WHERE lower(t.id_token) = lower(%s) AND t.type = %s ORDER BY t.id_token LIMIT 1",
            (id_token, type),
        )
        return cur.fetchone()
