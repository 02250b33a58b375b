"""Bearer tokens with roles (SPEC section 3).

Tokens are random machine secrets, so one SHA-256 is the stored form (a slow KDF would only cost
CPU on every request). The bootstrap token from ``CSMS_ADMIN_TOKEN`` is compared in constant time.
A token seen recently is remembered for ``cache_seconds`` so a busy client does not cost a
database round trip per request; a revoked token therefore stops working within that time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Awaitable, Callable

import attrs
import trio

from ._errors import Forbidden, Unauthorized

__all__ = ["BOOTSTRAP_NAME", "Authenticator", "Principal", "Role", "hash_token"]

#: ``requested_by`` of commands sent with the ``CSMS_ADMIN_TOKEN`` token.
BOOTSTRAP_NAME = "bootstrap-admin"


class Role(enum.IntEnum):
    """Ordered: a stronger role may do what a weaker one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r} (admin, operator or viewer)") from None


@attrs.frozen
class Principal:
    name: str
    role: Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


#: Looks a token hash up: (name, role label) of a live token, or None.
TokenLookup = Callable[[str], Awaitable[tuple[str, str] | None]]


class Authenticator:
    def __init__(
        self,
        lookup: TokenLookup,
        *,
        admin_token: str | None = None,
        cache_seconds: float = 5.0,
        cache_size: int = 1024,
    ) -> None:
        self._lookup = lookup
        self._admin_hash = hash_token(admin_token).encode() if admin_token else None
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("an Authorization: Bearer token is required")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("an Authorization: Bearer token is required")
        digest = hash_token(token)
        if self._admin_hash is not None and hmac.compare_digest(digest.encode(), self._admin_hash):
            return Principal(BOOTSTRAP_NAME, Role.ADMIN)
        now = trio.current_time()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            found = await self._lookup(digest)
            principal = None if found is None else Principal(found[0], Role.parse(found[1]))
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_seconds, principal)
        if principal is None:
            raise Unauthorized("unknown, expired or revoked token")
        return principal

    @staticmethod
    def authorize(principal: Principal, needed: Role) -> None:
        if principal.role < needed:
            raise Forbidden(
                f"this needs the {needed.label} role; the token is {principal.role.label}"
            )

    def forget(self) -> None:
        self._cache.clear()
