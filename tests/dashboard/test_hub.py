"""The live updates' hub over a real node's event bus: one shared subscription, batches naming
topics and stations, streams taking turns to lead, a stream that fell behind told everything."""

from __future__ import annotations

import datetime as dt

import trio
import trio.testing

from csms.api.dashboard import EventHub
from csms.api.dashboard._hub import EVERYTHING, HISTORY, MAX_STATIONS, Batch, topic_of
from csms.domain.events import CommandSent, StationConnected, StationStatus
from csms.node._control_plane import NodeControlPlane

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def status(station_id: str) -> StationStatus:
    return StationStatus(at=NOW, station_id=station_id, evse_id=1, connector_id=1, status="Faulted")


def test_topics_of_subjects():
    assert topic_of("station.status") == "station"
    assert topic_of("ocpp.command.sent") == "command"
    assert topic_of("v2g.session.updated") == "v2g"


async def test_a_burst_of_events_is_one_batch_naming_its_topics_and_stations(node):
    hub = EventHub(NodeControlPlane(node), coalesce=0.05)
    seen = hub.join()
    async with trio.open_nursery() as nursery:
        versions: list[int] = []

        async def wait() -> None:
            versions.append(await hub.wait(seen))

        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        for i in range(300):
            node.events.publish(status(f"CP{i % 3}"))
        node.events.publish(
            CommandSent(at=NOW, command_id="c", station_id="CP9", action="Reset", requested_by="x")
        )
    assert versions == [1]
    assert hub.since(seen) == Batch(
        frozenset({"station", "command"}), frozenset({"CP0", "CP1", "CP2", "CP9"})
    )
    hub.leave()


async def test_too_many_stations_in_a_batch_is_any_station(node):
    hub = EventHub(NodeControlPlane(node), coalesce=0.05)
    seen = hub.join()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(hub.wait, seen)
        await trio.testing.wait_all_tasks_blocked()
        for i in range(MAX_STATIONS + 1):
            node.events.publish(StationConnected(at=NOW, station_id=f"S{i}", version="ocpp2.1"))
    assert hub.since(seen) == Batch(frozenset({"station"}), None)
    hub.leave()


async def test_when_the_leading_stream_goes_away_another_one_leads(node):
    hub = EventHub(NodeControlPlane(node), coalesce=0.05)
    seen = hub.join()
    hub.join()
    follower: list[int] = []
    with trio.fail_after(30):  # a hang guard: without a new leader the follower waits forever
        await _lead_then_leave(hub, seen, follower, node)
    assert follower == [1]
    assert hub.since(seen).stations == frozenset({"CP1"})
    hub.leave()
    hub.leave()


async def _lead_then_leave(hub: EventHub, seen: int, follower: list[int], node) -> None:
    async with trio.open_nursery() as nursery:
        leader_scope = trio.CancelScope()

        async def leader() -> None:
            with leader_scope:
                await hub.wait(seen)

        async def other() -> None:
            follower.append(await hub.wait(seen))

        nursery.start_soon(leader)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(other)
        await trio.testing.wait_all_tasks_blocked()
        leader_scope.cancel()  # the leader's page closed while it waited for the first event
        await trio.testing.wait_all_tasks_blocked()
        node.events.publish(status("CP1"))


async def test_a_stream_far_behind_is_told_everything_and_the_last_one_unsubscribes(node):
    control = NodeControlPlane(node)
    hub = EventHub(control, coalesce=0.0)
    before = len(node.events._subscriptions)
    seen = hub.join()
    assert len(node.events._subscriptions) == before + 1
    version = seen
    for i in range(HISTORY + 2):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hub.wait, version)
            await trio.testing.wait_all_tasks_blocked()
            node.events.publish(status(f"CP{i}"))
        version = hub.version
    assert hub.since(seen) == EVERYTHING
    assert hub.since(version - 1).stations == frozenset({f"CP{HISTORY + 1}"})
    hub.leave()
    assert len(node.events._subscriptions) == before


async def test_a_batch_is_encoded_once_for_every_stream_that_had_seen_the_same_version(node):
    hub = EventHub(NodeControlPlane(node), coalesce=0.0)
    seen = hub.join()
    for station in ("CP1", "CP2"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hub.wait, hub.version)
            await trio.testing.wait_all_tasks_blocked()
            node.events.publish(status(station))
    up_to_date, behind = hub.message(seen + 1), hub.message(seen)
    assert up_to_date == b'event: change\ndata: {"topics":["station"],"stations":["CP2"]}\n\n'
    assert behind == (b'event: change\ndata: {"topics":["station"],"stations":["CP1","CP2"]}\n\n')
    # the fiftieth dashboard gets the very message the first one got
    assert hub.message(seen + 1) is up_to_date
    hub.leave()


async def test_a_batch_carries_the_overviews_figures_once_for_all_and_only_while_one_is_open(
    node,
):
    hub = EventHub(NodeControlPlane(node), coalesce=0.05)
    computed: list[int] = []

    async def figures(version: int) -> dict[str, str]:
        computed.append(version)
        return {"online": str(version)}

    hub.figures = figures

    async def batch(*events: object) -> int:
        seen = hub.version
        async with trio.open_nursery() as nursery:
            nursery.start_soon(hub.wait, seen)
            await trio.testing.wait_all_tasks_blocked()
            for event in events:
                node.events.publish(event)
        return seen

    # no overview open: no figures computed, none sent
    hub.join()
    seen = await batch(status("CP1"))
    assert computed == []
    assert b"figures" not in hub.message(seen)
    # two overviews open: computed once per batch, in every stream's message
    first, second = hub.join(figures=True), hub.join(figures=True)
    assert first == second
    seen = await batch(status("CP1"))
    assert computed == [hub.version]
    message = hub.message(seen)
    assert b'"figures":{"online":"' + str(hub.version).encode() + b'"}' in message
    assert hub.message(seen) is message
    # a batch that cannot change them (commands only) carries none
    seen = await batch(
        CommandSent(at=NOW, command_id="c", station_id="CP9", action="Reset", requested_by="x")
    )
    assert len(computed) == 1
    assert b"figures" not in hub.message(seen)
    hub.leave(figures=True)
    hub.leave(figures=True)
    hub.leave()
