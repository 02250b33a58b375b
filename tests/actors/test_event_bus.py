"""The node's event bus: catalog events, stamped with the node's id, filtered by subject prefix;
publishing never waits and a full subscriber loses events, counted."""

from __future__ import annotations

import pytest
import trio

from csms.actors.events import EventBus
from csms.actors.station import HANDLERS
from csms.domain.events import (
    BY_SUBJECT,
    STATION_MESSAGES,
    CommandSent,
    StationConnected,
    StationDisconnected,
)


def sent(command_id: str = "c1") -> CommandSent:
    return CommandSent(command_id=command_id, station_id="CP1", action="Reset", requested_by="a")


async def test_events_are_stamped_with_the_node_id_and_filtered_by_prefix() -> None:
    bus = EventBus("node-3")
    everything, commands = bus.subscribe(""), bus.subscribe("ocpp.command.")
    bus.publish(StationConnected(station_id="CP1", version="ocpp2.0.1"))
    bus.publish(sent())
    bus.publish(StationDisconnected(station_id="CP1", node_id="node-9"))  # one set is kept
    got = [everything.receive.receive_nowait() for _ in range(3)]
    assert [type(e) for e in got] == [StationConnected, CommandSent, StationDisconnected]
    assert [e.node_id for e in got] == ["node-3", "node-3", "node-9"]
    assert commands.receive.receive_nowait() == got[1]
    for sub in (everything, commands):
        with pytest.raises(trio.WouldBlock):
            sub.receive.receive_nowait()
    assert bus.published == 3


async def test_a_full_subscriber_loses_events_counted_and_the_publisher_never_waits() -> None:
    bus = EventBus("node-1")
    slow = bus.subscribe("", capacity=2)
    for n in range(5):
        bus.publish(sent(f"c{n}"))  # a plain call: it cannot wait
    assert slow.dropped == 3
    kept = [slow.receive.receive_nowait() for _ in range(2)]
    assert [e.command_id for e in kept if isinstance(e, CommandSent)] == ["c0", "c1"]


async def test_unsubscribed_and_closed_subscribers_get_nothing_more() -> None:
    bus = EventBus("node-1")
    gone, closed, kept = bus.subscribe(""), bus.subscribe(""), bus.subscribe("")
    bus.unsubscribe(gone)
    closed.receive.close()
    bus.publish(sent())
    bus.publish(sent())
    assert [e async for e in gone] == []  # its channel was closed by unsubscribe
    assert closed not in bus._subscriptions
    assert kept.receive.statistics().current_buffer_used == 2


def test_every_station_message_of_the_catalog_has_a_handler_that_publishes_it() -> None:
    """The catalog's StationMessage classes name OCPP actions the station actor answers (the
    acknowledging handlers are registered from the classes themselves)."""
    assert set(STATION_MESSAGES) <= set(HANDLERS)
    assert {cls.subject for cls in STATION_MESSAGES.values()} <= set(BY_SUBJECT)
