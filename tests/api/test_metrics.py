"""Command events are counted in batches, yet a scrape of /metrics is never behind the bus."""

from __future__ import annotations

import trio

from csms.actors import Node
from csms.api import Metrics, create_token
from csms.domain.events import CommandAbandoned, CommandResponse, CommandSent, CommandTimeout

from .conftest import client


async def test_a_scrape_counts_the_command_events_still_waiting(node: Node) -> None:
    for _ in range(3):
        node.events.publish(
            CommandSent(command_id="c", station_id="CP1", action="Reset", requested_by="alice")
        )
    node.events.publish(
        CommandResponse(
            command_id="c",
            station_id="CP1",
            action="Reset",
            outcome="callerror",
            response=None,
            error_code="NotSupported",
            error_description="",
        )
    )
    node.events.publish(CommandTimeout(command_id="d", station_id="CP1", action="Reset"))
    node.events.publish(
        CommandAbandoned(command_id="e", station_id="CP1", action="Reset", requested_by="bob")
    )
    async with client(node) as api:
        text = (await api.get("/metrics")).text  # no wait: the scrape takes what is pending
    assert 'csms_ocpp_commands_sent_total{action="Reset"} 3' in text
    assert 'csms_ocpp_command_results_total{action="Reset",outcome="callerror"} 1' in text
    assert 'csms_ocpp_command_results_total{action="Reset",outcome="timeout"} 1' in text
    assert 'csms_ocpp_command_results_total{action="Reset",outcome="abandoned"} 1' in text
    assert 'csms_ocpp_callerrors_total{code="NotSupported"} 1' in text
    assert "csms_metrics_events_dropped_total 0" in text


def test_collectors_run_before_the_counters_are_read() -> None:
    metrics = Metrics()
    metrics.collectors.append(lambda: metrics.inc("fed_later_total", kind="x"))
    metrics.collect()
    metrics.collect()
    assert metrics.counters["fed_later_total"][(("kind", "x"),)] == 2


async def test_metrics_need_a_viewer_token_and_health_checks_none(
    node: Node, database_url: str
) -> None:
    """One rule, as the README says it: /healthz and /readyz are open, /metrics is a read."""
    async with client(node, token=None) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/readyz")).status_code in (200, 503)
        assert (await anonymous.get("/metrics")).status_code == 401
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "prometheus")
    async with client(node, viewer) as scraper:
        reply = await scraper.get("/metrics")
    assert reply.status_code == 200
    assert "csms_persistence_fast_path_batches_total" in reply.text
    assert "csms_persistence_replayed_batches_total 0" in reply.text
