"""Station authentication: the authenticator interface, an in-memory one, and Basic credentials."""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping
from typing import Protocol

from ._passwords import hash_password, verify_password


class AuthResult(enum.Enum):
    """What an authenticator decided about one connection attempt."""

    OK = "ok"
    UNKNOWN_STATION = "unknown_station"  # answered with HTTP 404 (Part 4 §3.2)
    BAD_PASSWORD = "bad_password"  # answered with HTTP 401


class Authenticator(Protocol):
    """Decides whether a station may connect.

    ``password`` is the Basic-auth password (profiles 1 and 2), or None when the station was
    already authenticated by its TLS client certificate (profile 3): then only whether the station
    is known (and allowed) is asked. Implementations compare passwords with
    :func:`verify_password` against the stored hash, never in plain text.
    """

    async def check(self, station_id: str, password: str | None) -> AuthResult: ...


class StaticAuthenticator:
    """An in-memory table of station ids and password hashes, for development and tests."""

    __slots__ = ("_hashes",)

    def __init__(self, password_hashes: Mapping[str, str] | None = None) -> None:
        self._hashes: dict[str, str] = dict(password_hashes or {})

    @classmethod
    def from_passwords(cls, passwords: Mapping[str, str]) -> StaticAuthenticator:
        """Hashes each plain-text password once, at construction."""
        return cls({station: hash_password(pw) for station, pw in passwords.items()})

    def set_password(self, station_id: str, password: str) -> None:
        self._hashes[station_id] = hash_password(password)

    def remove(self, station_id: str) -> None:
        self._hashes.pop(station_id, None)

    async def check(self, station_id: str, password: str | None) -> AuthResult:
        stored = self._hashes.get(station_id)
        if stored is None:
            return AuthResult.UNKNOWN_STATION
        if password is None or verify_password(stored, password):
            return AuthResult.OK
        return AuthResult.BAD_PASSWORD


def parse_basic_authorization(value: str) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic ...`` value, or None if malformed.

    The username is everything before the first colon (a station id never contains one, Part 4
    §3.1.1); the password, which may contain colons, is UTF-8 (A00.FR.205).
    """
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon:
        return None
    return username, password
