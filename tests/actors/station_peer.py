"""A charge point at the far end of a station actor's in-memory link, speaking through the
client role of ``csms.protocol``, and a node harness with real persistence behind it."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from csms.actors.database import DatabasePool
from csms.actors.events import EventBus
from csms.actors.persistence import PersistenceSettings, persistence_spec
from csms.actors.station import MemoryLink, StationServices, memory_link, start_station
from csms.protocol import (
    Call,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultReceived,
    OcppConnection,
    ProtocolViolation,
    Role,
    Version,
    new_message_id,
)
from csms.runtime import (
    ActorRef,
    ChildSpec,
    DynamicSupervisor,
    Strategy,
    Supervisor,
)
from csms.storage import connect
from csms.storage import stations as station_repo


class StationPeer:
    """Sends CALLs and reads what the CSMS sends back; CSMS-initiated CALLs wait in ``inbox``."""

    def __init__(self, link: MemoryLink, version: Version) -> None:
        self.link = link
        self.conn = OcppConnection(Role.CLIENT, version, validate_outbound=True)
        self.messages = __import__(
            "csms.protocol." + ("v201" if version is Version.V201 else "v21"), fromlist=["x"]
        )
        self.inbox: list[CallReceived] = []
        self.violations: list[ProtocolViolation] = []
        self.responses: list[Any] = []

    async def send_raw(self, text: str) -> None:
        await self.link.send_text(text)

    async def _read_one(self) -> None:
        for event in self.conn.receive_text(await self.link.receive_text()):
            if isinstance(event, CallReceived):
                self.inbox.append(event)
            elif isinstance(event, ProtocolViolation):
                self.violations.append(event)
            else:
                self.responses.append(event)

    async def next_event(self) -> Any:
        """The next response (result or error) the CSMS sent to one of our CALLs."""
        while not self.responses:
            await self._read_one()
        return self.responses.pop(0)

    async def call(self, request: Any) -> Any:
        """Send ``request``; the typed response, or the CallErrorReceived event."""
        await self.link.send_text(self.conn.send(Call(new_message_id(), request)))
        event = await self.next_event()
        if isinstance(event, CallResultReceived):
            return event.payload
        assert isinstance(event, CallErrorReceived), event
        return event

    async def next_call(self) -> CallReceived:
        while not self.inbox:
            await self._read_one()
        return self.inbox.pop(0)

    async def answer(self, call: CallReceived, response: Any) -> None:
        await self.link.send_text(self.conn.send(CallResult(call.message_id, response)))

    async def boot(self) -> Any:
        m = self.messages
        return await self.call(
            m.BootNotificationRequest(
                charging_station=m.ChargingStation(model="Wallbox", vendor_name="Acme"),
                reason=m.BootReasonEnum.POWER_UP,
            )
        )


@attrs.define
class Node:
    root: Supervisor
    stations: DynamicSupervisor
    services: StationServices
    events: EventBus
    database_url: str
    nursery: trio.Nursery  # where the stations' readers (their connections' tasks) run

    def register(self, station_id: str, status: str = "Accepted") -> None:
        with connect(self.database_url) as conn:
            station_repo.create(conn, station_id, registration_status=status)
            conn.commit()

    async def connect(
        self,
        station_id: str,
        version: Version = Version.V201,
        *,
        registration_status: str | None = None,  # what the listener read when it connected
    ) -> tuple[ActorRef, StationPeer]:
        csms_end, station_end = memory_link(station_id, version.value)

        async def serve(task_status: trio.TaskStatus[ActorRef]) -> None:
            # What the listener does with a WebSocket: this task becomes the station's reader.
            actor = await start_station(
                self.stations,
                csms_end,
                self.services,
                registration_status=registration_status,
                validate_outbound=True,
            )
            task_status.started(actor.ref)
            await actor.read_loop()

        ref = await self.nursery.start(serve)
        return ref, StationPeer(station_end, version)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()


@contextlib.asynccontextmanager
async def running_node(database_url: str, **services: Any) -> AsyncIterator[Node]:
    events = EventBus("node-test")
    spec, _ = persistence_spec(PersistenceSettings(database_url, flush_interval=0.001))
    stations = DynamicSupervisor(name="stations")
    root = Supervisor(
        Strategy.REST_FOR_ONE, [spec, ChildSpec.supervisor("stations", stations)], name="node"
    )
    database = DatabasePool(database_url, size=2)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(root.run)
            station_services = StationServices(
                node_id="node-test",
                persistence=root.ref("persistence"),
                database=database,
                events=events,
                **services,
            )
            yield Node(root, stations, station_services, events, database_url, nursery)
            await root.stop()
    finally:
        database.close()


NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
FOREVER = math.inf
