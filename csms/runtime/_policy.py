"""Supervision policies: strategies, restart types, restart intensity and backoff."""

from __future__ import annotations

import enum
import random
from collections import deque

import attrs


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them crashes."""

    ONE_FOR_ONE = "one_for_one"  # only the crashed child
    ONE_FOR_ALL = "one_for_all"  # every child (stopped in reverse order, started in order)
    REST_FOR_ONE = "rest_for_one"  # the crashed child and the ones started after it


class RestartType(enum.Enum):
    """When a child that ended is started again."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after a crash, not after a normal exit
    TEMPORARY = "temporary"  # never

    def restarts_after(self, *, crashed: bool) -> bool:
        if self is RestartType.PERMANENT:
            return True
        return self is RestartType.TRANSIENT and crashed


@attrs.frozen
class RestartIntensity:
    """At most ``max_restarts`` restarts within ``within`` seconds, else the supervisor gives up."""

    max_restarts: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    within: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))


@attrs.frozen
class Backoff:
    """Delay before the n-th consecutive restart of a child: ``initial * multiplier**(n-1)``,
    capped at ``maximum``, spread by +-``jitter`` (a fraction) so that siblings do not restart in
    lockstep. A child that ran ``reset_after`` seconds without crashing starts over at ``initial``.
    """

    initial: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    maximum: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: float = attrs.field(
        default=0.1, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )
    reset_after: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based) of a run of crashes."""
        base = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        if self.jitter:
            base *= rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.maximum, base)


class RestartWindow:
    """Counts restarts inside the sliding window of a ``RestartIntensity``."""

    __slots__ = ("_times", "intensity")

    def __init__(self, intensity: RestartIntensity) -> None:
        self.intensity = intensity
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Record a restart at ``now``; False when it is one too many."""
        times = self._times
        times.append(now)
        horizon = now - self.intensity.within
        while times and times[0] <= horizon:
            times.popleft()
        return len(times) <= self.intensity.max_restarts
