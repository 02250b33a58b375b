"""Latency histograms that merge exactly across worker processes, and the load test report.

Latencies go into log-spaced buckets (2 % wide), so a histogram costs a few hundred integers
whatever the number of samples, and percentiles are accurate to the bucket width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Histogram", "LoadStats", "format_table"]

_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)
_FLOOR = 1e-6  # seconds: the smallest latency told apart


class Histogram:
    __slots__ = ("buckets", "count", "maximum", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def add(self, seconds: float) -> None:
        index = int(math.log(max(seconds, _FLOOR) / _FLOOR) / _LOG_GROWTH)
        self.buckets[index] = self.buckets.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        self.maximum = max(self.maximum, seconds)

    def percentile(self, fraction: float) -> float:
        """The latency below which ``fraction`` of the samples fall (upper bucket edge)."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(_FLOOR * _GROWTH ** (index + 1), self.maximum)
        return self.maximum

    def merge(self, other: Histogram) -> None:
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def dump(self) -> dict[str, Any]:
        return {
            "buckets": {str(k): v for k, v in self.buckets.items()},
            "count": self.count,
            "total": self.total,
            "maximum": self.maximum,
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Histogram:
        hist = cls()
        hist.buckets = {int(k): int(v) for k, v in data["buckets"].items()}
        hist.count = int(data["count"])
        hist.total = float(data["total"])
        hist.maximum = float(data["maximum"])
        return hist


class LoadStats:
    """What a fleet of simulated stations did: shared by every station of one process."""

    __slots__ = (
        "connected",
        "connects",
        "error_kinds",
        "errors",
        "latency",
        "ready",
        "ready_listener",
        "received",
    )

    def __init__(self) -> None:
        self.connected = 0
        self.connects = 0
        #: stations whose first boot was accepted and whose connector statuses were answered
        self.ready = 0
        self.ready_listener: Callable[[int], None] | None = None  # told the new count
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.latency: dict[str, Histogram] = {}
        self.received = 0  # calls the CSMS sent to the stations

    @property
    def messages(self) -> int:
        return sum(h.count for h in self.latency.values()) + self.received

    def call_done(self, action: str, seconds: float) -> None:
        hist = self.latency.get(action)
        if hist is None:
            hist = self.latency[action] = Histogram()
        hist.add(seconds)

    def station_ready(self) -> None:
        self.ready += 1
        if self.ready_listener is not None:
            self.ready_listener(self.ready)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def dump(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "connects": self.connects,
            "ready": self.ready,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "received": self.received,
            "latency": {action: h.dump() for action, h in self.latency.items()},
        }

    def merge_dump(self, data: Mapping[str, Any]) -> None:
        self.connected += int(data["connected"])
        self.connects += int(data["connects"])
        self.ready += int(data["ready"])
        self.errors += int(data["errors"])
        for kind, n in data["error_kinds"].items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + int(n)
        self.received += int(data["received"])
        for action, raw in data["latency"].items():
            hist = self.latency.setdefault(action, Histogram())
            hist.merge(Histogram.load(raw))

    def report(self, *, seconds: float, **extra: Any) -> dict[str, Any]:
        """The final figures: per action count, rate and latency percentiles in milliseconds."""
        actions = {}
        for action in sorted(self.latency):
            h = self.latency[action]
            actions[action] = {
                "count": h.count,
                "per_second": round(h.count / seconds, 2) if seconds > 0 else 0.0,
                "p50_ms": round(h.percentile(0.50) * 1000, 3),
                "p95_ms": round(h.percentile(0.95) * 1000, 3),
                "p99_ms": round(h.percentile(0.99) * 1000, 3),
                "max_ms": round(h.maximum * 1000, 3),
            }
        calls = sum(h.count for h in self.latency.values())
        return {
            **extra,
            "seconds": round(seconds, 3),
            "connected": self.connected,
            "connects": self.connects,
            "ready": self.ready,
            "calls": calls,
            "calls_per_second": round(calls / seconds, 2) if seconds > 0 else 0.0,
            "received": self.received,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "actions": actions,
        }


def format_table(report: Mapping[str, Any]) -> str:
    """The report as a fixed-width table."""
    head = f"{'message':<28} {'count':>8} {'msg/s':>9} {'p50 ms':>9} {'p95 ms':>9} "
    head += f"{'p99 ms':>9} {'max ms':>9}"
    lines = [head, "-" * len(head)]
    rows: Iterable[tuple[str, Mapping[str, Any]]] = report["actions"].items()
    for action, row in rows:
        lines.append(
            f"{action:<28} {row['count']:>8} {row['per_second']:>9.1f} {row['p50_ms']:>9.2f} "
            f"{row['p95_ms']:>9.2f} {row['p99_ms']:>9.2f} {row['max_ms']:>9.2f}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{report['calls']} calls in {report['seconds']:.1f} s "
        f"({report['calls_per_second']:.1f}/s), "
        f"{report['connected']} connected, {report['errors']} errors"
    )
    return "\n".join(lines)
