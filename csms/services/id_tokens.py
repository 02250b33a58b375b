"""The id-token cache: what the database said about an (idToken, type), kept for a while.

Pure bookkeeping, no I/O: the caller reads the database on a miss and hands the answer to
``put``. Entries are bounded in number (least recently used evicted first) and in age: a
token's row is kept ``ttl`` seconds as a safety net (changes are meant to arrive as
``invalidate`` calls long before), the answer "no such token" only ``negative_ttl`` seconds.

Matching is case-insensitive in the database (OCPP's rule), so ``invalidate`` drops every entry
whose presented value or stored value equals the invalidated one ignoring case (``casefold``,
which folds at least what PostgreSQL's ``lower`` folds for the ASCII tokens the API accepts).
An entry whose row is the invalidated one is always dropped, whatever the case of the request.

A read that began before an invalidation must not put back what it read: ``generation`` is
taken before the read and given to ``put``, which refuses the answer if any invalidation (or
``clear``) happened meanwhile.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["CacheStats", "Cached", "IdTokenCache", "StoredIdToken"]


class StoredIdToken(Protocol):
    """What the cache needs of a stored token: its value as stored (any case)."""

    @property
    def id_token(self) -> str: ...


V = TypeVar("V", bound=StoredIdToken)
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Cached(Generic[V]):
    """A cached answer; ``value`` None means the database had no such token."""

    value: V | None


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    #: Entries dropped because their token changed (``clear`` counts every entry it drops).
    invalidations: int = 0
    evictions: int = 0
    expirations: int = 0
    #: Answers ``put`` refused because an invalidation happened while they were read.
    stale_puts: int = 0


@dataclass(slots=True)
class _Entry(Generic[V]):
    answer: Cached[V]
    expires_at: float
    folded: tuple[Key, ...]  # where the entry is listed in the case-insensitive index


def _fold(id_token: str, type: str) -> Key:
    return id_token.casefold(), type


class IdTokenCache(Generic[V]):
    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl: float = 300.0,
        negative_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if ttl < 0 or negative_ttl < 0:
            raise ValueError("ttl and negative_ttl must not be negative")
        self.max_entries = max_entries
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry[V]] = OrderedDict()
        self._folded: dict[Key, set[Key]] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Take it before reading the database; ``put`` needs it."""
        return self._generation

    def get(self, id_token: str, type: str) -> Cached[V] | None:
        """The cached answer, or None on a miss (absent or expired)."""
        key = (id_token, type)
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            self._remove(key)
            self.stats.expirations += 1
            entry = None
        if entry is None:
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry.answer

    def put(self, id_token: str, type: str, value: V | None, *, generation: int) -> bool:
        """Keep the database's answer for (id_token, type), read since ``generation`` was
        taken; False (and nothing kept) if something was invalidated in the meantime."""
        if generation != self._generation:
            self.stats.stale_puts += 1
            return False
        key = (id_token, type)
        if key in self._entries:
            self._remove(key)
        folded = {_fold(id_token, type)}
        if value is not None:
            folded.add(_fold(value.id_token, type))
        ttl = self.ttl if value is not None else self.negative_ttl
        self._entries[key] = _Entry(Cached(value), self._clock() + ttl, tuple(folded))
        for fold in folded:
            self._folded.setdefault(fold, set()).add(key)
        while len(self._entries) > self.max_entries:
            self._remove(next(iter(self._entries)))
            self.stats.evictions += 1
        return True

    def invalidate(self, id_token: str, type: str) -> int:
        """Forget every entry the token (value in any case, and type) may have answered;
        the number of entries dropped. Reads in flight will not be kept (see ``put``)."""
        self._generation += 1
        keys = list(self._folded.get(_fold(id_token, type), ()))
        for key in keys:
            self._remove(key)
        self.stats.invalidations += len(keys)
        return len(keys)

    def clear(self) -> None:
        """Forget everything (changes may have been missed); reads in flight are not kept."""
        self._generation += 1
        self.stats.invalidations += len(self._entries)
        self._entries.clear()
        self._folded.clear()

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key)
        for fold in entry.folded:
            listed = self._folded[fold]
            listed.discard(key)
            if not listed:
                del self._folded[fold]
