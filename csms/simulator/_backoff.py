"""The reconnect back-off of OCPP 2.0.1 Part 4 section 5.3 (and Part 2 B, OCPPCommCtrlr).

The first attempt waits RetryBackOffWaitMinimum plus a random value up to RetryBackOffRandomRange;
each failed attempt doubles the previous wait, RetryBackOffRepeatTimes times at most, and every
attempt adds a fresh random value. After that the station keeps reconnecting with the last wait.
"""

from __future__ import annotations

import random

import attrs

__all__ = ["ReconnectBackoff"]


@attrs.frozen
class ReconnectBackoff:
    wait_minimum: float = 5.0
    random_range: float = 10.0
    repeat_times: int = 5

    def __attrs_post_init__(self) -> None:
        if self.wait_minimum < 0 or self.random_range < 0 or self.repeat_times < 0:
            raise ValueError("back-off settings must not be negative")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnection attempt ``attempt`` (0 is the first)."""
        doublings = min(max(attempt, 0), self.repeat_times)
        base: float = self.wait_minimum * 2.0**doublings
        return base + rng.uniform(0.0, self.random_range)
