"""Prometheus text exposition of the node's counters.

Counters fed while the node runs (``Metrics``) and gauges read at scrape time (``render``):
stations connected, OCPP messages received per action, commands per action and outcome,
CALLERRORs per code, command latencies through the API, HTTP requests, mailbox depths,
restarts and crashes per actor (stations summed), and the persistence counters.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._control import NodeStats

__all__ = ["LATENCY_BUCKETS", "Histogram", "Metrics", "render"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
Labels = tuple[tuple[str, str], ...]


class Histogram:
    __slots__ = ("buckets", "count", "counts", "total")

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.count += 1
        self.total += value


class Metrics:
    """What the API and the event subscription count while the node runs."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self.histograms: dict[str, dict[Labels, Histogram]] = defaultdict(dict)
        self.events_dropped = 0
        #: Called before the metrics are read: feeds that count in batches catch up first, so
        #: a scrape sees everything that happened before it.
        self.collectors: list[Callable[[], None]] = []

    def collect(self) -> None:
        for collector in list(self.collectors):
            collector()

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        self.counters[name][tuple(sorted(labels.items()))] += amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        histogram = self.histograms[name].get(key)
        if histogram is None:
            histogram = self.histograms[name][key] = Histogram()
        histogram.observe(value)


HELP = {
    "csms_ocpp_commands_sent_total": "CSMS-initiated calls sent to stations.",
    "csms_ocpp_command_results_total": "Completed commands by outcome.",
    "csms_ocpp_callerrors_total": "CALLERRORs stations answered commands with, by code.",
    "csms_http_requests_total": "HTTP requests by route and status.",
    "csms_api_command_duration_seconds": "Command round trips through the API, by action.",
}


def _labels(labels: Labels, extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _gauge(
    lines: list[str], name: str, help: str, kind: str, values: Mapping[Labels, float]
) -> None:
    lines.append(f"# HELP {name} {help}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in values.items():
        lines.append(f"{name}{_labels(labels)} {_number(value)}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(stats: NodeStats, metrics: Metrics) -> str:
    metrics.collect()
    lines: list[str] = []
    _gauge(
        lines,
        "csms_stations_connected",
        "Stations connected to this node.",
        "gauge",
        {(): stats.stations_connected},
    )
    for name, series in sorted(metrics.counters.items()):
        _gauge(lines, name, HELP.get(name, name), "counter", dict(series))
    for name, by_labels in sorted(metrics.histograms.items()):
        lines.append(f"# HELP {name} {HELP.get(name, name)}")
        lines.append(f"# TYPE {name} histogram")
        for labels, hist in by_labels.items():
            running = 0
            for bound, count in zip(hist.buckets, hist.counts, strict=False):
                running += count
                lines.append(f"{name}_bucket{_labels(labels, [('le', repr(bound))])} {running}")
            lines.append(f"{name}_bucket{_labels(labels, [('le', '+Inf')])} {hist.count}")
            lines.append(f"{name}_sum{_labels(labels)} {hist.total!r}")
            lines.append(f"{name}_count{_labels(labels)} {hist.count}")
    _station_message_metrics(lines, stats)
    _actor_metrics(lines, stats)
    _persistence_metrics(lines, stats)
    _id_token_metrics(lines, stats)
    _nats_metrics(lines, stats)
    _gauge(
        lines,
        "csms_events_published_total",
        "Events published on the node's bus.",
        "counter",
        {(): stats.events_published},
    )
    _gauge(
        lines,
        "csms_metrics_events_dropped_total",
        "Bus events the metrics subscription lost (it fell behind).",
        "counter",
        {(): metrics.events_dropped},
    )
    return "\n".join(lines) + "\n"


def _station_message_metrics(lines: list[str], stats: NodeStats) -> None:
    _gauge(
        lines,
        "csms_ocpp_messages_received_total",
        "OCPP messages received from stations and handled.",
        "counter",
        {(("action", action),): count for action, count in sorted(stats.messages_received.items())},
    )
    series: dict[Labels, float] = {
        (("action", action), ("outcome", outcome), ("owner", owner)): value
        for (action, outcome, owner), value in stats.routed.items()
    }
    _gauge(
        lines,
        "csms_station_routed_messages_total",
        "Station messages routed to the actor that owns them, by outcome: routed, dropped "
        "(its mailbox was full or it was down), refused (the station was asked to retry), "
        "defaulted (it did not decide the answer in time).",
        "counter",
        series,
    )


def _actor_metrics(lines: list[str], stats: NodeStats) -> None:
    depth: dict[Labels, float] = {}
    high: dict[Labels, float] = {}
    restarts: dict[Labels, float] = {}
    crashes: dict[Labels, float] = {}
    dropped: dict[Labels, float] = {}
    station_depth_max = 0
    for row in stats.actors:
        if row.kind == "station":  # thousands of them: summed, plus the deepest mailbox
            key: Labels = (("actor", "stations/*"),)
            station_depth_max = max(station_depth_max, row.mailbox_depth)
        else:
            key = (("actor", row.path),)
        depth[key] = depth.get(key, 0) + row.mailbox_depth
        high[key] = max(high.get(key, 0), row.mailbox_high_water)
        restarts[key] = restarts.get(key, 0) + row.restarts
        crashes[key] = crashes.get(key, 0) + row.crashes
        dropped[key] = dropped.get(key, 0) + row.dropped
    _gauge(lines, "csms_actor_mailbox_depth", "Messages waiting in mailboxes.", "gauge", depth)
    _gauge(
        lines,
        "csms_actor_mailbox_high_water",
        "Deepest a mailbox has been.",
        "gauge",
        high,
    )
    _gauge(
        lines,
        "csms_station_mailbox_depth_max",
        "Deepest station mailbox now.",
        "gauge",
        {(): station_depth_max},
    )
    _gauge(lines, "csms_actor_restarts_total", "Restarts by supervisors.", "counter", restarts)
    _gauge(lines, "csms_actor_crashes_total", "Crashes seen by supervisors.", "counter", crashes)
    _gauge(
        lines, "csms_actor_dropped_total", "Messages dropped at full mailboxes.", "counter", dropped
    )


def _persistence_metrics(lines: list[str], stats: NodeStats) -> None:
    status = stats.persistence
    rows = [
        ("csms_persistence_ready", "1 while the database accepts writes.", "gauge", status.ready),
        ("csms_persistence_buffered", "Records held, not yet committed.", "gauge", status.buffered),
        (
            "csms_persistence_committed_records_total",
            "Records committed.",
            "counter",
            status.committed_records,
        ),
        (
            "csms_persistence_committed_batches_total",
            "Batches (transactions) committed; records / batches is the mean batch size.",
            "counter",
            status.committed_batches,
        ),
        (
            "csms_persistence_fast_path_batches_total",
            "Batches written whole in one pipelined round trip.",
            "counter",
            status.fast_path_batches,
        ),
        (
            "csms_persistence_replayed_batches_total",
            "Batches refused whole and replayed group by group (a bad record was in them).",
            "counter",
            status.replayed_batches,
        ),
        (
            "csms_persistence_rejected_writes_total",
            "Writes the database refused.",
            "counter",
            status.rejected_writes,
        ),
        ("csms_persistence_retries_total", "Write retries.", "counter", status.retries),
    ]
    for name, help, kind, value in rows:
        _gauge(lines, name, help, kind, {(): float(value)})


#: NodeStats.nats key -> (metric, type, help).
NATS_METRICS: dict[str, tuple[str, str, str]] = {
    "connected": ("csms_nats_mirror_connected", "gauge", "1 while the mirror is connected."),
    "stored": (
        "csms_nats_mirror_stored_total",
        "counter",
        "Events JetStream acknowledged as stored.",
    ),
    "duplicates": (
        "csms_nats_mirror_duplicates_total",
        "counter",
        "Events sent again that JetStream recognised by their Nats-Msg-Id.",
    ),
    "dropped": (
        "csms_nats_mirror_dropped_total",
        "counter",
        "Events lost: the mirror's buffer was full, or the node stopped before NATS took them.",
    ),
    "retries": ("csms_nats_mirror_retries_total", "counter", "Batches sent again."),
    "remote_commands": (
        "csms_nats_remote_commands_total",
        "counter",
        "Commands sent to stations held by other nodes.",
    ),
    "commands_connected": (
        "csms_nats_commands_connected",
        "gauge",
        "1 while the link for commands between nodes is connected.",
    ),
}


def _nats_metrics(lines: list[str], stats: NodeStats) -> None:
    if stats.nats is None:
        return
    for key, value in stats.nats.items():
        name, kind, help = NATS_METRICS.get(key, (f"csms_nats_{key}", "gauge", key))
        _gauge(lines, name, help, kind, {(): float(value)})


def _id_token_metrics(lines: list[str], stats: NodeStats) -> None:
    ids = stats.id_tokens
    rows = [
        (
            "csms_id_token_cache_hits_total",
            "Id-token lookups answered by the cache.",
            ids.cache_hits,
        ),
        (
            "csms_id_token_cache_misses_total",
            "Id-token lookups the cache missed.",
            ids.cache_misses,
        ),
        (
            "csms_id_token_cache_invalidations_total",
            "Cached id tokens dropped because they changed (or the listener reconnected).",
            ids.cache_invalidations,
        ),
        (
            "csms_id_token_database_reads_total",
            "Id-token lookups that read the database.",
            ids.database_reads,
        ),
    ]
    for name, help, value in rows:
        _gauge(lines, name, help, "counter", {(): float(value)})
    _gauge(
        lines, "csms_id_token_cache_entries", "Id tokens cached.", "gauge", {(): ids.cache_entries}
    )
    _gauge(
        lines,
        "csms_id_token_listener_up",
        "1 while the node hears id-token changes (the cache is used only then).",
        "gauge",
        {(): float(ids.listening)},
    )
