"""When a fault's TransactionEvent latency is back to normal.

Every TransactionEvent's latency (the CALL sent to its CALLRESULT received, as the station saw
it) goes into a histogram of the wall-clock second it was answered in (`SoakStats`); a fleet in
worker processes sends its completed seconds with its status line (`LatencySeries.merge`).

The criterion (`latency_recovery`): the baseline is the p99 of the quiet window before the
fault (from the end of the previous fault's recovery, or the fleet's start, to the fault; its
last `BASELINE_SECONDS` at most). The schedule's quiet time is stretched until that window holds
`MIN_BASELINE_SAMPLES` TransactionEvents over `MIN_QUIET_SECONDS` at least (`baseline_ready`),
for `BASELINE_SECONDS` at most: a fault whose window still holds fewer is not judged.

The latency has recovered at the end of the first `WINDOW_SECONDS`
window that starts at or after the fault's end, ends at or after the fleet's own recovery,
holds at least `MIN_WINDOW_SAMPLES` events and has a p99 within the threshold:
max(`FACTOR` x baseline, baseline + `ALLOWANCE_S`) (the allowance: a baseline of a few
milliseconds doubled is within the noise of a shared machine).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs

from csms.simulator import LoadStats
from csms.simulator._stats import Histogram

__all__ = [
    "LatencyRecovery",
    "LatencySeries",
    "SoakStats",
    "baseline_ready",
    "latency_recovery",
]

WINDOW_SECONDS: Final = 5
BASELINE_SECONDS: Final = 30
FACTOR: Final = 2.0
ALLOWANCE_S: Final = 0.1
MIN_BASELINE_SAMPLES: Final = 20
MIN_QUIET_SECONDS: Final = 3.0
MIN_WINDOW_SAMPLES: Final = 10
ACTION: Final = "TransactionEvent"


class LatencySeries:
    """TransactionEvent latencies by the wall-clock second they were answered in."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: dict[int, Histogram] = {}

    def add(self, at: float, latency: float) -> None:
        second = int(at)
        hist = self.seconds.get(second)
        if hist is None:
            hist = self.seconds[second] = Histogram()
        hist.add(latency)

    def window(self, start: float, end: float) -> Histogram:
        """Every sample of the seconds in [start, end)."""
        out = Histogram()
        for second in range(math.ceil(start), math.floor(end)):  # whole seconds inside
            hist = self.seconds.get(second)
            if hist is not None:
                out.merge(hist)
        return out

    def take_complete(self, now: float) -> dict[str, Any]:
        """The seconds before ``now``'s, dumped and forgotten (a worker sends them on)."""
        done = [s for s in self.seconds if s < int(now)]
        return {str(s): self.seconds.pop(s).dump() for s in done}

    def merge(self, dumped: Mapping[str, Any]) -> None:
        for second, raw in dumped.items():
            hist = self.seconds.setdefault(int(second), Histogram())
            hist.merge(Histogram.load(raw))


class SoakStats(LoadStats):
    """`LoadStats` that also keeps the TransactionEvent latencies per second."""

    __slots__ = ("series",)

    def __init__(self) -> None:
        super().__init__()
        self.series = LatencySeries()

    def call_done(self, action: str, seconds: float) -> None:
        super().call_done(action, seconds)
        if action == ACTION:
            self.series.add(time.time(), seconds)


@attrs.frozen
class LatencyRecovery:
    baseline_p99_ms: float | None  # None: no baseline, the fault is not judged
    threshold_ms: float | None
    recovered_s: float | None  # from the fault's end; None: not (yet) recovered

    @property
    def judged(self) -> bool:
        return self.baseline_p99_ms is not None


def baseline_window(series: LatencySeries, quiet_since: float, now: float) -> Histogram:
    """The quiet window's samples: its whole seconds, the last `BASELINE_SECONDS` at most."""
    return series.window(max(quiet_since, now - BASELINE_SECONDS), now)


def baseline_ready(series: LatencySeries, quiet_since: float, now: float) -> bool:
    """The quiet window is long enough to give the next fault its baseline."""
    if now - quiet_since >= BASELINE_SECONDS:
        return True  # as long as it gets: a fleet without TransactionEvents is not judged
    if now - quiet_since < MIN_QUIET_SECONDS:
        return False
    return baseline_window(series, quiet_since, now).count >= MIN_BASELINE_SAMPLES


def latency_recovery(
    series: LatencySeries,
    *,
    quiet_since: float,
    fault_start: float,
    fault_end: float,
    fleet_recovered: float,
    complete_until: float,
) -> LatencyRecovery:
    """Judge one fault on ``series`` (wall-clock instants); windows are looked at only up to
    ``complete_until`` (the seconds every part of the fleet has reported)."""
    baseline = baseline_window(series, quiet_since, fault_start)
    if baseline.count < MIN_BASELINE_SAMPLES:
        return LatencyRecovery(None, None, None)
    p99 = baseline.percentile(0.99)
    threshold = max(FACTOR * p99, p99 + ALLOWANCE_S)
    start = math.ceil(fault_end)
    while start + WINDOW_SECONDS <= complete_until:
        end = start + WINDOW_SECONDS
        if end >= fleet_recovered:
            window = series.window(start, end)
            if window.count >= MIN_WINDOW_SAMPLES and window.percentile(0.99) <= threshold:
                return LatencyRecovery(
                    _ms(p99), _ms(threshold), round(max(end - fault_end, 0.0), 2)
                )
        start += 1
    return LatencyRecovery(_ms(p99), _ms(threshold), None)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
