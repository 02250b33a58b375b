"""A whole node with an OCPP 2.0.1 `ocpp`-package charge point for the firmware jobs' end-to-end
tests (tests/interop/test_firmware_*.py). The charge point answers UpdateFirmware with the next of
its ``answers`` and hands each UpdateFirmware to the trio side; the test walks the status
sequence (FirmwareStatusNotification with the requestId received) and waits on the node's
``firmware.update.*`` events."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import trio
from ocpp.routing import on
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from csms.actors import Node, NodeParts
from csms.actors.events import Subscription
from csms.domain.events import Event
from csms.runtime import Actor, AsyncioThread, ChildSpec
from csms.storage import connect as db_connect
from csms.storage import stations
from csms.transport import hash_password

from ..api.conftest import ADMIN_TOKEN, api_node, client
from .peer import PASSWORD, Peer, Station201, open_peer

STATION = "FW-CP1"
NODE_SETTINGS = {"ocpp.ping_interval": 3600.0, "ocpp.response_timeout": 10.0}
LOCATION = "https://firmware.example/cp-2.0.bin"


def setup_database(database_url: str) -> None:
    with db_connect(database_url) as conn:
        stations.create(conn, STATION, password_hash=hash_password(PASSWORD))
        conn.commit()


class Rig:
    def __init__(self, node: Node, api: httpx.AsyncClient, bridge: AsyncioThread) -> None:
        self.node, self.api, self.bridge = node, api, bridge
        self.events: Subscription | None = None
        self.peer: Peer | None = None
        self._in, self.updates = trio.open_memory_channel[dict[str, Any]](100)

    async def connect(self, *answers: str, firmware_version: str = "1.0") -> Peer:
        token = trio.lowlevel.current_trio_token()
        send = self._in
        queue = list(answers)

        class FirmwareStation(Station201):  # type: ignore[misc]
            @on("UpdateFirmware")
            async def on_firmware(self, **kw: Any) -> Any:
                self.received.append(("UpdateFirmware", kw))
                trio.from_thread.run_sync(send.send_nowait, kw, trio_token=token)
                return result201.UpdateFirmware(status=queue.pop(0) if queue else "Accepted")

        self.peer = await open_peer(
            self.bridge, self.node.ocpp_port, STATION, station_class=FirmwareStation
        )
        await self.boot(firmware_version, reason="PowerUp")
        return self.peer

    async def boot(self, firmware_version: str, *, reason: str = "FirmwareUpdate") -> None:
        assert self.peer is not None
        await self.peer.call(
            call201.BootNotification(
                charging_station={
                    "model": "Wallbox",
                    "vendor_name": "Acme",
                    "firmware_version": firmware_version,
                },
                reason=reason,
            )
        )

    async def status(self, status: str, request_id: int) -> None:
        assert self.peer is not None
        await self.peer.call(
            call201.FirmwareStatusNotification(status=status, request_id=request_id)
        )

    async def update(self, **body: Any) -> httpx.Response:
        return await self.api.post(
            f"/api/v1/devices/{STATION}/firmware/update",
            json={"location": LOCATION, "retrieveDateTime": now_text(), **body},
        )

    async def sent(self) -> dict[str, Any]:
        """The next UpdateFirmware the charge point received."""
        with trio.fail_after(60):  # a hang guard, not a timing assertion
            return await self.updates.receive()

    async def event(self, subject: str) -> Event:
        assert self.events is not None
        with trio.fail_after(60):
            async for event in self.events:
                if event.subject == subject:
                    return event
        raise AssertionError("the event feed ended")


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextlib.asynccontextmanager
async def rig(database_url: str, bridge: AsyncioThread, **settings: Any) -> AsyncIterator[Rig]:
    feeds: list[Subscription] = []

    def firmware_events(parts: NodeParts) -> ChildSpec:
        # subscribed as the node is built: a job resumed at its start is seen too
        feeds.append(parts.events.subscribe("firmware.update."))
        return ChildSpec.actor("firmware_events", Actor, kind="test")

    async with (
        api_node(
            database_url, extra_children=(firmware_events,), **{**NODE_SETTINGS, **settings}
        ) as node,
        client(node, ADMIN_TOKEN) as api,
    ):
        running = Rig(node, api, bridge)
        running.events = feeds[0]
        try:
            yield running
        finally:
            node.events.unsubscribe(feeds[0])
            if running.peer is not None:
                with contextlib.suppress(Exception):
                    await running.peer.close()
