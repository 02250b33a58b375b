"""A fleet of `ocpp`-package 2.0.1 charge points for the firmware campaign tests: each accepts
UpdateFirmware and walks Downloading, Downloaded, Installing, then Installed (or the failure
status it was given), on its own. The fleet counts the stations updating at once (from the
UpdateFirmware received until the last status is about to go out, so a new job can only
start after the count went down) and can hold them before their last status."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import trio
from ocpp.routing import on
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from csms.actors import Node
from csms.runtime import AsyncioThread
from csms.storage import connect as db_connect
from csms.storage import stations
from csms.transport import hash_password

from .peer import PASSWORD, Peer, Station201, open_peer

WALK = ("Downloading", "Downloaded", "Installing")


def register_fleet(database_url: str, ids: list[str]) -> None:
    digest = hash_password(PASSWORD)  # once: the same password for every station
    with db_connect(database_url) as conn:
        for station_id in ids:
            stations.create(conn, station_id, password_hash=digest, registration_status="Accepted")
        conn.commit()


class Fleet:
    def __init__(self, bridge: AsyncioThread, *, failures: dict[str, str] | None = None) -> None:
        self.bridge = bridge
        self.failures = failures or {}
        self.peers: dict[str, Peer] = {}
        self.active = 0
        self.max_active = 0
        self.updates: list[tuple[str, int]] = []  # (station, requestId) in the order received
        self.release: asyncio.Event | None = None  # set: stations hold before their last status
        self._token = trio.lowlevel.current_trio_token()
        self._send, self.received = trio.open_memory_channel[str](10_000)

    async def hold(self) -> None:
        async def make() -> None:
            self.release = asyncio.Event()

        await self.bridge.run(make)

    async def let_go(self) -> None:
        async def go() -> None:
            assert self.release is not None
            self.release.set()

        await self.bridge.run(go)

    async def connect(self, node: Node, ids: list[str], versions: dict[str, str]) -> None:
        fleet = self

        class FleetStation(Station201):  # type: ignore[misc]
            @on("UpdateFirmware")
            async def on_firmware(self, **kw: Any) -> Any:
                fleet._started(self.id, kw["request_id"])
                asyncio.get_running_loop().create_task(fleet._walk(self, kw["request_id"]))
                return result201.UpdateFirmware(status="Accepted")

        async def one(station_id: str) -> None:
            peer = await open_peer(
                self.bridge, node.ocpp_port, station_id, station_class=FleetStation
            )
            self.peers[station_id] = peer
            await peer.call(
                call201.BootNotification(
                    charging_station={
                        "model": "Wallbox",
                        "vendor_name": "Acme",
                        "firmware_version": versions.get(station_id, "1.0"),
                    },
                    reason="PowerUp",
                )
            )

        async with trio.open_nursery() as nursery:
            for station_id in ids:
                nursery.start_soon(one, station_id)

    def _started(self, station_id: str, request_id: int) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.updates.append((station_id, request_id))
        trio.from_thread.run_sync(self._send.send_nowait, station_id, trio_token=self._token)

    async def _walk(self, cp: Any, request_id: int) -> None:
        for status in WALK:
            await cp.call(call201.FirmwareStatusNotification(status=status, request_id=request_id))
        if self.release is not None:
            await self.release.wait()
        self.active -= 1  # before the last status: the CSMS cannot start another one earlier
        final = self.failures.get(cp.id, "Installed")
        await cp.call(call201.FirmwareStatusNotification(status=final, request_id=request_id))

    async def next_update(self) -> str:
        with trio.fail_after(60):  # a hang guard, not a timing assertion
            return await self.received.receive()

    async def close(self) -> None:
        for peer in self.peers.values():
            with contextlib.suppress(Exception):
                await peer.close()
        self.peers.clear()
