"""Throttling of repeated authentication failures and of the accept rate; pure (the caller
passes the clock)."""

from __future__ import annotations

import math

import attrs


@attrs.frozen
class ThrottleSettings:
    """After ``max_failures`` failures within ``window`` seconds, refuse for ``lockout`` seconds."""

    max_failures: int = attrs.field(validator=attrs.validators.ge(1))
    window: float = attrs.field(validator=attrs.validators.gt(0))
    lockout: float = attrs.field(validator=attrs.validators.gt(0))
    #: Bound on tracked keys, so a flood of distinct keys cannot grow memory without limit.
    max_entries: int = attrs.field(default=100_000, validator=attrs.validators.ge(1))


@attrs.define
class _Entry:
    window_start: float
    failures: int = 0
    blocked_until: float = float("-inf")


class FailureThrottle:
    """Counts failures per key in fixed windows and blocks a key that fails too often.

    A fixed window (count resets ``window`` seconds after the first failure in it) costs one small
    record per key. A key's record is forgotten once its window and lockout have both passed; when
    the table is full, stale records go first, then the oldest-inserted.
    """

    __slots__ = ("_entries", "_last_sweep", "settings")

    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings
        self._entries: dict[str, _Entry] = {}
        self._last_sweep = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it is not blocked."""
        entry = self._entries.get(key)
        if entry is None or entry.blocked_until <= now:
            return None
        return entry.blocked_until - now

    def record_failure(self, key: str, now: float) -> bool:
        """Count a failure; True if this failure made ``key`` blocked."""
        entry = self._entries.get(key)
        if entry is None:
            self._make_room(now)
            entry = self._entries[key] = _Entry(window_start=now)
        elif now - entry.window_start >= self.settings.window:
            entry.window_start = now
            entry.failures = 0
        entry.failures += 1
        if entry.failures >= self.settings.max_failures:
            entry.blocked_until = now + self.settings.lockout
            entry.failures = 0
            entry.window_start = now
            return True
        return False

    def record_success(self, key: str) -> None:
        """Forget ``key``'s failures (it proved it holds the secret)."""
        self._entries.pop(key, None)

    def _stale(self, entry: _Entry, now: float) -> bool:
        return entry.blocked_until <= now and now - entry.window_start >= self.settings.window

    def _make_room(self, now: float) -> None:
        if len(self._entries) < self.settings.max_entries:
            return
        # A full sweep at most once per window keeps a flood of new keys from costing O(n) each.
        if now - self._last_sweep >= self.settings.window:
            self._last_sweep = now
            for key in [k for k, e in self._entries.items() if self._stale(e, now)]:
                del self._entries[key]
        while len(self._entries) >= self.settings.max_entries:
            del self._entries[next(iter(self._entries))]


class AcceptRateGuard:
    """A token bucket over new connections: ``rate`` per second, at most ``burst`` at once.

    ``admit(now)`` is 0 when the connection may proceed, else the seconds it should wait before
    trying again (``Retry-After``). That hint spreads the refused out instead of sending them all
    back at the same moment: they queue up, in the order refused, behind a queue that drains at
    ``rate``, and each is told when its turn would come: the k-th refusal in a burst
    ``k / rate`` seconds, at least 1 s, at most ``max_retry_after``. While refused stations come
    back and are refused again the queue grows, and so do the waits. Pure: the caller passes the
    clock (seconds, monotonic).
    """

    __slots__ = ("_queue", "_tokens", "_updated", "burst", "max_retry_after", "rate")

    def __init__(self, rate: float, burst: int, *, max_retry_after: int = 60) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        if max_retry_after < 1:
            raise ValueError(f"max_retry_after must be at least 1, got {max_retry_after!r}")
        self.rate = rate
        self.burst = burst
        self.max_retry_after = max_retry_after
        self._tokens = float(burst)
        self._queue = 0.0  # refused connections ahead of the next one refused
        self._updated: float | None = None

    def admit(self, now: float) -> int:
        """0 if a token was taken; else the ``Retry-After`` seconds for a refused connection."""
        last = now if self._updated is None else self._updated
        self._updated = max(now, last)
        drained = max(0.0, now - last) * self.rate  # a clock going back adds nothing
        self._tokens = min(float(self.burst), self._tokens + drained)
        self._queue = max(0.0, self._queue - drained)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0
        self._queue += 1.0
        return min(self.max_retry_after, max(1, math.ceil(self._queue / self.rate)))
