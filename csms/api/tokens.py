"""API tokens for ``csms token create --role R`` and ``csms token revoke NAME``.

The token is shown once, when it is created; only its SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import secrets

from csms.storage import connect
from csms.storage import tokens as token_repo

from ._auth import Role, hash_token

__all__ = ["TOKEN_PREFIX", "create_token", "new_token", "revoke_token"]

#: Makes a leaked token recognisable to secret scanners.
TOKEN_PREFIX = "csms_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    database_url: str, role: str, name: str, *, expires_at: dt.datetime | None = None
) -> str:
    """Store a new token with ``role`` under ``name`` and return it (the only time it is seen).

    Raises ValueError for an unknown role and ``psycopg.errors.UniqueViolation`` if ``name`` is
    taken.
    """
    Role.parse(role)
    if not 1 <= len(name) <= 100:
        raise ValueError("a token name has 1 to 100 characters")
    token = new_token()
    with connect(database_url) as conn:
        token_repo.create_api_token(
            conn, name, hash_token(token), role.lower(), expires_at=expires_at
        )
        conn.commit()
    return token


def revoke_token(database_url: str, name: str) -> None:
    """Revoke the live token named ``name``; raises ``csms.storage.NotFound`` if there is none.

    Running nodes stop accepting it within their token cache time (5 s)."""
    with connect(database_url) as conn:
        token_repo.revoke_api_token(conn, name)
        conn.commit()
