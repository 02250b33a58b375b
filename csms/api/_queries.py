"""The API's list queries: filters with keyset pagination (newest first), over the tables the
storage package defines. Each takes a psycopg connection, like the storage repositories."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from ._errors import InvalidBody

T = TypeVar("T")

__all__ = [
    "command_key",
    "decode_cursor",
    "encode_cursor",
    "split_page",
    "transaction_key",
]


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key, default=str)).decode().rstrip("=")


def split_page(
    rows: list[T], limit: int, key: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    """The page (rows were fetched with ``limit + 1``) and the cursor of the next one, if any."""
    page = rows[:limit]
    cursor = encode_cursor(*key(page[-1])) if len(rows) > limit and page else None
    return page, cursor


def decode_cursor(cursor: str | None, arity: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except ValueError:
        key = None
    if not (isinstance(key, list) and len(key) == arity and all(isinstance(k, str) for k in key)):
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    if any("\x00" in k for k in key):
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    return key


def _timestamp(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidBody("not a cursor this API gave out", field="cursor") from None
    if parsed.tzinfo is None:
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    return parsed


def transaction_key(after: list[str] | None) -> tuple[dt.datetime, str, str] | None:
    """The storage page key of a decoded transactions cursor."""
    return None if after is None else (_timestamp(after[0]), after[1], after[2])


def command_key(after: list[str] | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """The storage page key of a decoded commands cursor."""
    if after is None:
        return None
    try:
        command_id = uuid.UUID(after[1])
    except ValueError:
        raise InvalidBody("not a cursor this API gave out", field="cursor") from None
    return _timestamp(after[0]), command_id
