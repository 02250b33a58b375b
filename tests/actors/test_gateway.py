"""The command gateway: plain data in, the station's answer or a typed error out."""

from __future__ import annotations

import pytest
import trio

from csms.actors.gateway import LocalStationGateway
from csms.actors.station import StationNotConnected

from .station_peer import running_node


async def test_a_station_that_is_not_connected_gets_nothing(database_url):
    async with running_node(database_url) as node:
        gateway = LocalStationGateway(node.stations)
        assert not gateway.is_connected("CP9")
        with pytest.raises(StationNotConnected):
            await gateway.send(
                "CP9", "ClearCache", {}, requested_by="x", deadline=trio.current_time() + 5
            )
