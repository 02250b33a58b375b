"""Routes registered when the node is built: their owner gets the station's messages, and
/metrics counts them per route and outcome."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from csms.actors import NodeParts
from csms.actors.station import Route, StationMessage
from csms.node import open_node
from csms.runtime import Actor, AsyncioThread, ChildSpec, Supervisor

from .conftest import api_node, client, node_settings
from .test_device_commands import STATION, connected_station


class Watcher(Actor):
    def __init__(self, seen: list[StationMessage]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> None:
        self.seen.append(message)


async def test_a_route_registered_at_build_time_feeds_its_owner_and_the_metrics(
    database_url: str, admin_env: str, bridge: AsyncioThread
) -> None:
    seen: list[StationMessage] = []

    def watcher(parts: NodeParts) -> ChildSpec:
        return ChildSpec.actor("watcher", lambda: Watcher(seen))

    def routes(root: Supervisor) -> list[Route]:
        return [Route.notify("BootNotification", root.ref("watcher"), name="watcher")]

    async with (
        api_node(database_url, extra_children=(watcher,), routes=(routes,)) as node,
        client(node) as api,
    ):
        cp = await connected_station(node, api, bridge)
        with trio.fail_after(5):
            while not seen:
                await trio.lowlevel.checkpoint()
        assert [(m.station_id, m.action) for m in seen] == [(STATION, "BootNotification")]
        text = (await api.get("/metrics")).text
        assert (
            'csms_station_routed_messages_total{action="BootNotification",outcome="routed",'
            'owner="watcher"} 1'
        ) in text
        assert 'csms_ocpp_messages_received_total{action="BootNotification"} 1' in text
        await cp.close()


async def test_an_ask_route_must_decide_within_the_response_timeout(database_url: str) -> None:
    def routes(root: Supervisor) -> list[Route]:
        return [Route.ask("DataTransfer", root.ref("persistence"), name="pki", timeout=30)]

    with pytest.raises(ValueError, match="not less than the response timeout"):
        async with open_node(node_settings(database_url), routes=(routes,)):
            pass
