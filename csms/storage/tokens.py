"""Id tokens (authorization of charging) and API tokens (bearer tokens of the REST API).

API tokens are stored only as hashes; the caller hashes the presented token and looks it up.
"""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = [
    "ApiTokenRow",
    "IdTokenRow",
    "api_token_by_hash",
    "create_api_token",
    "delete_id_token",
    "get_id_token",
    "list_api_tokens",
    "list_id_tokens",
    "revoke_api_token",
    "touch_api_token",
    "upsert_id_token",
]


@attrs.frozen
class IdTokenRow:
    id_token: str
    type: str
    status: str
    expires_at: dt.datetime | None
    group_id: str | None
    user_id: str | None


@attrs.frozen
class ApiTokenRow:
    id: uuid.UUID
    name: str
    role: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


_ID_COLUMNS = "id_token, type, status, expires_at, group_id, user_id"
_API_COLUMNS = "id, name, role, created_at, expires_at, revoked_at, last_used_at"


def upsert_id_token(
    conn: Connection,
    id_token: str,
    type: str,
    *,
    status: str = "Accepted",
    expires_at: dt.datetime | None = None,
    group_id: str | None = None,
    user_id: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO id_tokens (id_token, type, status, expires_at, group_id, user_id)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id_token, type) DO UPDATE SET"
        " status = EXCLUDED.status, expires_at = EXCLUDED.expires_at,"
        " group_id = EXCLUDED.group_id, user_id = EXCLUDED.user_id, updated_at = now()",
        (id_token, type, status, expires_at, group_id, user_id),
    )


def get_id_token(conn: Connection, id_token: str, type: str) -> IdTokenRow | None:
    """Case-insensitive on the token value, as OCPP requires."""
    with conn.cursor(row_factory=class_row(IdTokenRow)) as cur:
        cur.execute(
            f"SELECT {_ID_COLUMNS} FROM id_tokens WHERE lower(id_token) = lower(%s) AND type = %s"
            " ORDER BY id_token LIMIT 1",
            (id_token, type),
        )
        return cur.fetchone()


def list_id_tokens(conn: Connection, *, group_id: str | None = None) -> list[IdTokenRow]:
    with conn.cursor(row_factory=class_row(IdTokenRow)) as cur:
        cur.execute(
            f"SELECT {_ID_COLUMNS} FROM id_tokens"
            " WHERE (%(g)s::text IS NULL OR group_id = %(g)s) ORDER BY id_token, type",
            {"g": group_id},
        )
        return cur.fetchall()


def delete_id_token(conn: Connection, id_token: str, type: str) -> None:
    cur = conn.execute("DELETE FROM id_tokens WHERE id_token = %s AND type = %s", (id_token, type))
    if cur.rowcount == 0:
        raise NotFound(f"no id token {id_token!r} of type {type!r}")


def create_api_token(
    conn: Connection, name: str, token_hash: str, role: str, *, expires_at: dt.datetime | None
) -> ApiTokenRow:
    with conn.cursor(row_factory=class_row(ApiTokenRow)) as cur:
        cur.execute(
            "INSERT INTO api_tokens (id, name, token_hash, role, expires_at)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {_API_COLUMNS}",
            (uuid.uuid4(), name, token_hash, role, expires_at),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def api_token_by_hash(conn: Connection, token_hash: str) -> ApiTokenRow | None:
    """The live token with this hash (not revoked, not expired), else None."""
    with conn.cursor(row_factory=class_row(ApiTokenRow)) as cur:
        cur.execute(
            f"SELECT {_API_COLUMNS} FROM api_tokens WHERE token_hash = %s"
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
            (token_hash,),
        )
        return cur.fetchone()


def touch_api_token(conn: Connection, token_id: uuid.UUID) -> None:
    conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s", (token_id,))


def revoke_api_token(conn: Connection, name: str) -> None:
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
    )
    if cur.rowcount == 0:
        raise NotFound(f"no live API token named {name!r}")


def list_api_tokens(conn: Connection) -> list[ApiTokenRow]:
    with conn.cursor(row_factory=class_row(ApiTokenRow)) as cur:
        cur.execute(f"SELECT {_API_COLUMNS} FROM api_tokens ORDER BY name")
        return cur.fetchall()
