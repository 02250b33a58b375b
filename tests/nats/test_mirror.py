"""The NATS mirror against a real nats-server: every event of the bus lands in the JetStream
stream on its subject (station id in it), with a Nats-Msg-Id; a resend is stored once; a
consumer takes one station; the stream is created with the configured limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import attrs
import orjson
import pytest
import trio
from nats.js.api import RetentionPolicy

from csms.actors import Node
from csms.domain import events as ev
from csms.domain.events import CATALOG, from_json
from csms.node import open_node
from csms.services.nats_subjects import message_id, station_token
from csms.transport.nats_server import EmbeddedNats
from tests.api.conftest import api_node, client, node_settings
from tests.event_schemas import check_event, generator
from tests.nats_server import NatsPeer

STREAM = "TEST_EVENTS"


@pytest.fixture
async def node(database_url: str, nats: EmbeddedNats) -> AsyncIterator[Node]:
    settings = node_settings(
        database_url,
        **{
            "nats.url": nats.url,
            "nats.stream": STREAM,
            "nats.prefix": "t1",
            "nats.max_age_s": 3600,
        },
    )
    async with open_node(settings) as running:
        yield running


def connected(station: str, at: dt.datetime | None = None) -> ev.StationConnected:
    kwargs: dict[str, Any] = {"at": at} if at else {}
    return ev.StationConnected(station_id=station, version="ocpp2.0.1", **kwargs)


async def test_events_arrive_on_their_subjects_with_a_message_id(
    node: Node, nats_peer: NatsPeer
) -> None:
    node.events.publish(connected("CP1"))
    status = ev.StationStatus(station_id="CP.2", evse_id=1, connector_id=1, status="Faulted")
    node.events.publish(status)
    node.events.publish(ev.CommandTimeout(station_id="CP1", command_id="c-1", action="Reset"))
    got = await nats_peer.run(nats_peer.collect, "t1.events.>", 3)
    assert [m.subject for m in got] == [
        "t1.events.CP1.station.connected",
        "t1.events.CP%2E2.station.status",
        "t1.events.CP1.ocpp.command.timeout",
    ]
    for m in got:
        event = from_json(m.body)  # the body validates against its documented shape
        assert event.node_id == "node-1"
        assert m.headers["Nats-Msg-Id"] == message_id(orjson.dumps(m.body))
    assert got[1].body["status"] == "Faulted"


async def test_a_resend_is_stored_once(node: Node, nats_peer: NatsPeer) -> None:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    node.events.publish(connected("CP1", at))
    node.events.publish(connected("CP1", at))  # the same event again: the same Nats-Msg-Id
    node.events.publish(connected("CP2", at))
    got = await nats_peer.run(nats_peer.collect, "t1.events.>", 2)
    assert [m.subject for m in got] == [
        "t1.events.CP1.station.connected",
        "t1.events.CP2.station.connected",
    ]
    with trio.fail_after(10):  # JetStream acknowledged the resend as a duplicate
        while node_mirror_stats(node).duplicates < 1:
            await trio.lowlevel.checkpoint()
    stored = await nats_peer.run(nats_peer.stream_messages, STREAM)
    assert [m.subject for m in stored if ".events._." not in m.subject] == [
        "t1.events.CP1.station.connected",
        "t1.events.CP2.station.connected",
    ]


async def test_a_consumer_takes_one_station(node: Node, nats_peer: NatsPeer) -> None:
    for station in ("CP1", "CP2", "CP1", "CP3"):
        node.events.publish(connected(station))
    node.events.publish(
        ev.TransactionStarted(
            station_id="CP1",
            transaction_id="tx-1",
            evse_id=1,
            seq_no=0,
            trigger_reason="CablePluggedIn",
            offline=False,
        )
    )
    got = await nats_peer.run(nats_peer.collect, "t1.events.CP1.>", 3)
    assert [m.subject for m in got] == [
        "t1.events.CP1.station.connected",
        "t1.events.CP1.station.connected",
        "t1.events.CP1.transaction.started",
    ]
    assert got[2].body["transactionId"] == "tx-1"


async def test_the_stream_is_created_with_the_configured_limits(
    node: Node, nats_peer: NatsPeer
) -> None:
    node.events.publish(connected("CP1"))
    await nats_peer.run(nats_peer.wait_stream_count, STREAM, 1)

    async def config() -> Any:
        return (await nats_peer.nc.jetstream().stream_info(STREAM)).config

    cfg = await nats_peer.run(config)
    assert cfg.subjects == ["t1.events.>"]
    assert cfg.retention == RetentionPolicy.LIMITS
    assert cfg.max_age == 3600
    assert cfg.num_replicas == 1
    assert cfg.duplicate_window == 120


def node_mirror_stats(node: Node) -> Any:
    assert node.nats_mirror is not None
    return node.nats_mirror


async def test_metrics_count_what_the_mirror_stored_and_dropped(
    database_url: str, nats: EmbeddedNats, nats_peer: NatsPeer, admin_env: str
) -> None:
    overrides = {"nats.url": nats.url, "nats.stream": STREAM}
    async with api_node(database_url, **overrides) as node, client(node) as api:
        node.events.publish(connected("CP1"))
        await nats_peer.run(nats_peer.wait_stream_count, STREAM, 1)
        r = await api.get("/metrics")
        assert r.status_code == 200
        lines = dict(
            line.rsplit(" ", 1) for line in r.text.splitlines() if line.startswith("csms_nats")
        )
        assert float(lines["csms_nats_mirror_connected"]) == 1
        assert float(lines["csms_nats_mirror_stored_total"]) >= 1
        assert float(lines["csms_nats_mirror_dropped_total"]) == 0
        assert float(lines["csms_nats_remote_commands_total"]) == 0


async def test_every_catalog_subject_is_published_with_its_documented_shape(
    node: Node, nats_peer: NatsPeer
) -> None:
    """One event of each catalog class (docs/EVENTS.md's example) through the bus: each is in
    the stream once, on its subject (its station in it), with a body that validates against its
    documented schema and reads back as the event published (stamped with the node)."""
    published = [attrs.evolve(generator().example(cls), node_id="") for cls in CATALOG]
    for event in published:
        node.events.publish(event)
    await nats_peer.run(nats_peer.wait_stream_count, STREAM, len(CATALOG))
    got = {
        m.body["subject"]: m
        for m in await nats_peer.run(nats_peer.stream_messages, STREAM)
        if m.body["nodeId"] == "node-1"
    }
    for event in published:
        message = got[event.subject]
        station = getattr(event, "station_id", None)
        token = station_token(station) if station is not None else "_"
        assert message.subject == f"t1.events.{token}.{event.subject}"
        stamped = attrs.evolve(event, node_id="node-1")
        assert check_event(stamped) == message.body


async def test_a_batch_not_acknowledged_is_sent_again_and_never_counted_stored(
    node: Node, nats_peer: NatsPeer
) -> None:
    """The stream deleted under the node: the batch gets a 503 status with no body, or no
    acknowledgement at all (then fails at ``ack_timeout_s``); either way it is sent again with
    backoff and not counted as stored."""
    stats = node_mirror_stats(node)
    with trio.fail_after(20):
        while not stats.connected:
            await trio.lowlevel.checkpoint()

    async def delete() -> None:
        await nats_peer.nc.jetstream().delete_stream(STREAM)

    await nats_peer.run(delete)
    retries = stats.retries
    node.events.publish(connected("CP9"))
    with trio.fail_after(20):  # the batch in hand failed: from now on it is only retried
        while stats.retries == retries:
            await trio.lowlevel.checkpoint()
    stored, retries = stats.stored, stats.retries
    with trio.fail_after(20):
        while stats.retries == retries:  # and fails again
            await trio.lowlevel.checkpoint()
    assert stats.stored == stored
