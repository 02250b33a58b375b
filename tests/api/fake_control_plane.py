"""An in-memory ``ControlPlane``: the control API without PostgreSQL, a running actor or a node.

``FakeGateway`` answers commands from a function per station (or never, or with a typed
``CommandError``) and records what it was sent; ``FakeDatabase`` (an ``InMemoryDatabase``)
answers the repository calls a test gives it, by function, and fails loudly on any other.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import trio

from csms.actors import InMemoryDatabase, PersistenceStatus
from csms.api import Conflict, DischargeStart, IdTokenStats, NodeStats, Unavailable, create_app
from csms.commands import CommandResult, StationNotConnected
from csms.domain.events import Event
from csms.services.grid_price_book import GridPriceBook, MarketQuery
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.services.pki_contract import verdict
from csms.services.pki_material import PkiMaterial
from csms.storage import stations, v2g_sessions
from csms.storage.v2g_sessions import SessionRow

Answer = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


@attrs.define
class Sent:
    station_id: str
    action: str
    payload: Mapping[str, Any]
    requested_by: str
    deadline: float


class FakeGateway:
    """Connected stations and how each answers: a function of (action, payload) that returns
    the response payload or raises a ``CommandError``; ``None`` never answers."""

    def __init__(self) -> None:
        self.stations: dict[str, Answer | None] = {}
        self.sent: list[Sent] = []
        self._ids = itertools.count(1)

    def is_connected(self, station_id: str) -> bool:
        return station_id in self.stations

    def would_wait(self, station_id: str) -> bool:
        return False  # its stations answer each command as it comes

    async def send(
        self,
        station_id: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        requested_by: str,
        deadline: float,
    ) -> CommandResult:
        if station_id not in self.stations:
            raise StationNotConnected(f"station {station_id!r} is not connected")
        self.sent.append(Sent(station_id, action, payload, requested_by, deadline))
        answer = self.stations[station_id]
        if answer is None:
            await trio.sleep_forever()
        assert answer is not None
        response = answer(action, payload)
        return CommandResult(f"cmd-{next(self._ids)}", action, response, message=None)


class FakeDatabase(InMemoryDatabase):
    """The registered stations (``stations.get``); any other repository call fails loudly."""

    def __init__(self) -> None:
        super().__init__()
        self.stations: dict[str, stations.StationRow] = {}
        self.answers[stations.get] = self.stations.get


class FakeV2G:
    """Discharge sessions that start as the test says: refused with ``refusal`` (a stable
    code), ``negotiating`` when ``negotiate``, else ``starting``; stopped at once. The
    sessions are in ``sessions``, which ``database`` answers the API's reads from."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self.starts: list[DischargeStart] = []
        self.stops: list[tuple[uuid.UUID, str]] = []
        self.power_changes: list[tuple[uuid.UUID, Decimal]] = []
        self.sessions: dict[uuid.UUID, SessionRow] = {}
        self.refusal: str | None = None
        self.negotiate = False
        database.answers[v2g_sessions.get] = self.sessions.get
        database.answers[v2g_sessions.list_sessions] = self._list

    def _list(
        self,
        *,
        active: bool | None,
        station_id: str | None,
        user_id: str | None,
        limit: int,
    ) -> list[SessionRow]:
        rows = [
            r
            for r in reversed(self.sessions.values())
            if (active is None or r.active == active)
            and station_id in (None, r.station_id)
            and user_id in (None, r.user_id)
        ]
        return rows[:limit]

    async def start_discharge(self, start: DischargeStart) -> SessionRow:
        self.starts.append(start)
        if self.refusal is not None:
            raise Conflict(f"refused: {self.refusal}", code=self.refusal)
        now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        row = SessionRow(
            id=uuid.uuid4(),
            station_id=start.station_id,
            evse_id=start.evse_id or 1,
            transaction_id="tx-1",
            user_id="u1",
            ev_id=None,
            state="negotiating" if self.negotiate else "starting",
            requested_by=start.requested_by,
            target_power_w=start.power_w,
            min_soc_percent=start.min_soc_percent or Decimal(30),
            start_soc_percent=Decimal(80),
            soc_percent=Decimal(80),
            energy_exported_wh=Decimal(0),
            profile_id=None,
            window_end_at=None,
            started_at=None,
            ended_at=None,
            end_reason=None,
            created_at=now,
            updated_at=now,
            ocpp_version="ocpp2.1",
            setpoint_w=None if self.negotiate else start.power_w,
            last_power_w=None,
            export_first_wh=None,
            export_last_wh=None,
            operation_mode=None if self.negotiate else "CentralSetpoint",
            profile_kind=None,
            policy_state={},
        )
        self.sessions[row.id] = row
        return row

    async def stop_discharge(
        self, session_id: uuid.UUID, *, requested_by: str
    ) -> SessionRow | None:
        self.stops.append((session_id, requested_by))
        row = self.sessions.get(session_id)
        if row is None or not row.active:
            return row
        ended = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
        row = attrs.evolve(row, state="completed", ended_at=ended, end_reason="operator_stop")
        self.sessions[session_id] = row
        return row

    async def change_discharge_power(
        self, session_id: uuid.UUID, power_w: Decimal
    ) -> SessionRow | None:
        """The new power as the setpoint of a session that is discharging; others unchanged."""
        self.power_changes.append((session_id, power_w))
        row = self.sessions.get(session_id)
        if row is None or row.state not in ("starting", "discharging"):
            return row
        row = attrs.evolve(row, target_power_w=power_w, setpoint_w=power_w)
        self.sessions[session_id] = row
        return row


def ready_persistence() -> PersistenceStatus:
    """The node's own persistence status, as a writer that is up and has written nothing."""
    status = PersistenceStatus()
    status.set_ready(True)
    return status


@attrs.define
class FakeFirmware:
    """No firmware jobs: the API's firmware routes are tested against a real node
    (tests/interop/test_firmware_api.py)."""

    async def start_update(self, update: Any) -> Any:
        raise Unavailable("no firmware jobs in the fake control plane")

    async def cancel_job(self, job_id: Any, *, requested_by: str) -> Any:
        return None


@attrs.define
class FakeCertificates:
    """The PKI facet: verdicts by the node's own pure policy over ``material`` (no trust anchors
    unless a test gives some); the events the API published are kept in ``published``."""

    material: PkiMaterial = attrs.Factory(PkiMaterial)
    published: list[Event] = attrs.Factory(list)

    def validate(self, pem: str, kind: str) -> Mapping[str, Any]:
        return verdict(pem, kind, self.material, dt.datetime.now(dt.UTC))

    def publish(self, event: Event) -> None:
        self.published.append(event)


class FakeFeed:
    receive: trio.MemoryReceiveChannel[Event]
    send: trio.MemorySendChannel[Event]
    dropped: int = 0


@attrs.define
class FakePrices:
    """Grid prices from a ``GridPriceBook`` in hand (no PLD cached: the simulated curve, unless a
    test puts a ``PldTable`` in it)."""

    book: GridPriceBook

    @property
    def time_zone(self) -> dt.tzinfo:
        return self.book.tz

    async def price(self, query: MarketQuery, at: dt.datetime) -> Any:
        return self.book.price(query, at)

    async def forecast(self, query: MarketQuery, start: dt.datetime, hours: int) -> Any:
        return self.book.forecast(query, start, hours)

    async def best_hours(
        self,
        query: MarketQuery,
        start: dt.datetime,
        end: dt.datetime,
        power_w: Decimal,
        energy_wh: Decimal,
    ) -> Any:
        return self.book.best_hours(query, start, end, power_w, energy_wh)


class FakeControlPlane:
    """The ``ControlPlane`` of the API's tests that need no node."""

    def __init__(self, *, response_timeout: float = 30.0) -> None:
        self.gateway = FakeGateway()
        self.database = FakeDatabase()
        self.response_timeout = response_timeout
        self.changed_id_tokens: list[tuple[str, str]] = []
        self.changed_v2g_users: list[str] = []
        self.disconnected: list[str] = []
        self.v2g = FakeV2G(self.database)
        self.firmware = FakeFirmware()
        self.certificates = FakeCertificates()
        self.prices = FakePrices(
            GridPriceBook(parse_grid_price_settings({}), ZoneInfo("America/Sao_Paulo"))
        )

    def register(self, station_id: str) -> stations.StationRow:
        now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        fields = {f.name: None for f in attrs.fields(stations.StationRow)}
        row = stations.StationRow(
            **{
                **fields,
                "id": station_id,
                "security_profile": 1,
                "registration_status": "Accepted",
                "created_at": now,
                "updated_at": now,
            }
        )
        self.database.stations[station_id] = row
        return row

    def connect(self, station_id: str, answer: Answer | None) -> None:
        """``station_id`` is registered and connected, answering with ``answer``."""
        self.register(station_id)
        self.gateway.stations[station_id] = answer

    def readiness(self) -> Mapping[str, bool]:
        return {"database": True, "ocppListener": True}

    def stats(self) -> NodeStats:
        return NodeStats(
            stations_connected=len(self.gateway.stations),
            events_published=0,
            persistence=ready_persistence(),
            id_tokens=IdTokenStats(),
        )

    def subscribe(self, prefix: str) -> FakeFeed:
        send, receive = trio.open_memory_channel[Event](100)
        return FakeFeed(receive, send)

    def unsubscribe(self, feed: Any) -> None:
        feed.send.close()

    async def station_snapshot(self, station_id: str) -> Any | None:
        return None

    async def disconnect_station(self, station_id: str) -> None:
        self.gateway.stations.pop(station_id, None)
        self.disconnected.append(station_id)

    def id_token_changed(self, id_token: str, type_: str) -> None:
        self.changed_id_tokens.append((id_token, type_))

    def v2g_user_changed(self, user_id: str) -> None:
        self.changed_v2g_users.append(user_id)


def fake_app(control: FakeControlPlane, admin_token: str) -> Any:
    return create_app(control, admin_token=admin_token)
