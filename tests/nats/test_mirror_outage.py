"""NATS down or slow never stops charging: a real nats-server is stopped while a station
sends transaction events (each is answered), then started again; the mirror reconnects and
what it holds reaches the stream. What it could not hold is counted, exactly: stored + dropped
equals what the node published."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import trio
from ocpp.v201 import call as req

from csms.actors import Node
from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.transport.nats_server import EmbeddedNats
from tests.api.chargepoint import TestChargePoint, connect_charge_point
from tests.api.conftest import PASSWORD, node_settings
from tests.nats_server import NatsPeer

STREAM = "OUTAGE_EVENTS"


def settings(database_url: str, nats: EmbeddedNats, buffer: int) -> Any:
    return node_settings(
        database_url,
        **{
            "nats.url": nats.url,
            "nats.stream": STREAM,
            "nats.buffer": buffer,
            "nats.ack_timeout_s": 1.0,
            "nats.reconnect_max_s": 0.5,
            "ocpp.auto_register": True,
        },
    )


def tx_event(seq_no: int) -> Any:
    return req.TransactionEvent(
        event_type="Started" if seq_no == 0 else "Updated",
        timestamp=dt.datetime.now(dt.UTC).isoformat(),
        trigger_reason="CablePluggedIn" if seq_no == 0 else "MeterValuePeriodic",
        seq_no=seq_no,
        transaction_info={"transaction_id": "tx-outage"},
        evse={"id": 1, "connector_id": 1},
    )


async def charge(cp: TestChargePoint, first: int, count: int) -> None:
    """``count`` transaction events, each answered before the next goes."""
    for seq_no in range(first, first + count):
        answer = await cp.bridge.run(cp.cp.call, tx_event(seq_no))
        assert answer is not None


async def everything_accounted_for(node: Node, peer: NatsPeer) -> int:
    """Waits until every event the node published is in the stream or counted as dropped;
    returns the drops."""
    stats = node.nats_mirror
    assert stats is not None
    with trio.fail_after(60):
        while True:
            stored = await peer.run(peer.stream_count, STREAM)
            if stored + stats.dropped == node.events.published:
                return stats.dropped
            await trio.sleep(0.05)


async def outage(node: Node, nats: EmbeddedNats, peer: NatsPeer, bridge: AsyncioThread) -> int:
    cp = await connect_charge_point(bridge, node.ocpp_port, "CP-NATS-1", PASSWORD)
    assert (await cp.boot()).status == "Accepted"
    await charge(cp, 0, 5)
    await peer.run(peer.wait_stream_count, STREAM, 1)
    await trio.to_thread.run_sync(nats.stop)
    await charge(cp, 5, 40)  # every one answered while NATS is down
    await trio.to_thread.run_sync(nats.start)  # same port, same JetStream store
    await charge(cp, 45, 5)
    dropped = await everything_accounted_for(node, peer)
    await cp.close()
    return dropped


async def test_charging_goes_on_while_nats_is_down_and_the_mirror_catches_up(
    database_url: str, nats: EmbeddedNats, nats_peer: NatsPeer, bridge: AsyncioThread
) -> None:
    async with open_node(settings(database_url, nats, buffer=10_000)) as node:
        dropped = await outage(node, nats, nats_peer, bridge)
        assert dropped == 0
        stats = node.nats_mirror
        assert stats is not None
        assert stats.connects == 2  # it lost NATS, and reconnected
        rows = await nats_peer.run(nats_peer.collect, "csms.events.CP-NATS-1.transaction.>", 50)
        assert [r.body["seqNo"] for r in rows] == list(range(50))  # each once, in order


async def test_what_the_buffer_cannot_hold_is_dropped_and_counted(
    database_url: str,
    nats: EmbeddedNats,
    nats_peer: NatsPeer,
    bridge: AsyncioThread,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="csms.nats")
    async with open_node(settings(database_url, nats, buffer=3)) as node:
        dropped = await outage(node, nats, nats_peer, bridge)
    assert dropped > 0
    lines = [r for r in caplog.records if r.getMessage() == "mirror.dropped"]
    assert sum(r.__dict__["dropped"] for r in lines) == dropped
