"""What the control API needs from the node it controls: ``ControlPlane``, a protocol the API
owns. The composition root (``csms.node``) fills it in from a running node; the API's tests
also run against an in-memory one (tests/api/fake_control_plane.py). Nothing here knows the
actors behind it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import attrs
import trio

from csms.commands import StationGateway
from csms.domain.events import Event
from csms.runtime import ChildStats
from csms.services.grid_price_book import MarketQuery
from csms.services.price_forecast import DischargePlan, HourForecast
from csms.services.retail_price import GridPrice
from csms.storage import Connection
from csms.storage.v2g_sessions import SessionRow

from ._compensation import MoneyControl
from ._firmware_control import FirmwareControl
from ._optimize_control import OptimizerControl

__all__ = [
    "CertificateControl",
    "ControlPlane",
    "Database",
    "DischargeStart",
    "EventFeed",
    "GridPriceControl",
    "IdTokenStats",
    "NodeStats",
    "OptimizerControl",
    "PersistenceStats",
    "V2GControl",
]

P = ParamSpec("P")
T = TypeVar("T")


class Database(Protocol):
    """Repository calls (``csms.storage``'s modules), each in one transaction, off the trio
    thread: ``await database.run(stations.get, "CP001")``. Reads and the API's own writes
    (registrations, tokens); the stations' records go through the node's writer instead."""

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...


class EventFeed(Protocol):
    """A subscription to the node's events (the command metrics read one)."""

    @property
    def receive(self) -> trio.MemoryReceiveChannel[Event]: ...

    @property
    def dropped(self) -> int:
        """Events lost because the feed fell behind."""
        ...


class PersistenceStats(Protocol):
    """The node's writer, as /metrics shows it."""

    @property
    def ready(self) -> bool: ...
    @property
    def buffered(self) -> int: ...
    @property
    def committed_records(self) -> int: ...
    @property
    def committed_batches(self) -> int: ...
    @property
    def fast_path_batches(self) -> int: ...
    @property
    def replayed_batches(self) -> int: ...
    @property
    def rejected_writes(self) -> int: ...
    @property
    def retries(self) -> int: ...


@attrs.frozen
class IdTokenStats:
    cache_hits: int = 0
    cache_misses: int = 0
    cache_invalidations: int = 0
    cache_entries: int = 0
    database_reads: int = 0
    #: Whether the node hears id-token changes (its cache is used only then).
    listening: bool = False


@attrs.frozen
class NodeStats:
    """The node's gauges and counters, read at each scrape of /metrics."""

    stations_connected: int
    events_published: int
    persistence: PersistenceStats
    id_tokens: IdTokenStats
    #: OCPP messages received and handled, per action.
    messages_received: Mapping[str, int] = attrs.field(factory=dict)
    #: Station messages routed to their owners: (action, outcome, owner) -> count.
    routed: Mapping[tuple[str, str, str], int] = attrs.field(factory=dict)
    #: One row per supervised child (``csms.runtime.collect_stats``).
    actors: Sequence[ChildStats] = ()
    #: NATS counters by name (``NATS_METRICS`` of the metrics module), None when NATS is off.
    nats: Mapping[str, float] | None = None


@attrs.frozen
class DischargeStart:
    """A discharge start as the API asks for it (``POST /api/v1/v2g/discharge/start``)."""

    station_id: str
    #: None: the EVSE of the station's only active transaction.
    evse_id: int | None
    #: The discharge power (positive), W.
    power_w: Decimal
    duration_s: int | None
    #: None: the owner's floor; a higher one may be given.
    min_soc_percent: Decimal | None
    requested_by: str


class V2GControl(Protocol):
    """The node's discharge sessions, as the API starts and stops them (reads go to the
    database)."""

    async def start_discharge(self, start: DischargeStart) -> SessionRow:
        """Start a session and return it as stored (state ``starting``, or ``negotiating`` when
        the EV has to renegotiate a bidirectional mode first); raises ``Conflict`` with one of
        the stable refusal codes (``DISCHARGE_REFUSALS``), ``Unavailable`` when the node runs no
        discharge sessions."""
        ...

    async def stop_discharge(
        self, session_id: uuid.UUID, *, requested_by: str
    ) -> SessionRow | None:
        """Stop a session (charging is restored) and return it (``stopping``, or as it ended);
        None when there is no such session."""
        ...

    async def change_discharge_power(
        self, session_id: uuid.UUID, power_w: Decimal
    ) -> SessionRow | None:
        """Give a running session a new discharge power (W, positive; capped as at the start,
        sent as UpdateDynamicSchedule or a new profile) and return it as it is then (a session
        not discharging is returned unchanged); None when there is no such session."""
        ...


class GridPriceControl(Protocol):
    """The node's grid prices (the prices actor's table: CCEE, else simulated). A bad query
    (an unknown distributor, hours out of range, an empty window) raises
    ``GridPriceQueryError`` naming the field; ``Unavailable`` when the node runs no prices."""

    @property
    def time_zone(self) -> dt.tzinfo:
        """The operator's zone, in which answers give their instants."""
        ...

    async def price(self, query: MarketQuery, at: dt.datetime) -> GridPrice: ...

    async def forecast(
        self, query: MarketQuery, start: dt.datetime, hours: int
    ) -> tuple[HourForecast, ...]: ...

    async def best_hours(
        self,
        query: MarketQuery,
        start: dt.datetime,
        end: dt.datetime,
        power_w: Decimal,
        energy_wh: Decimal,
    ) -> DischargePlan: ...


class CertificateControl(Protocol):
    """The node's PKI (csms/node/_certificates.py): the configured trust anchors, and the
    ``security.certificate.*`` events of what the API did on stations."""

    def validate(self, pem: str, kind: str) -> Mapping[str, Any]:
        """The verdict on a PEM chain (``csms.services.pki_contract.verdict``)."""
        ...

    def publish(self, event: Event) -> None: ...


class ControlPlane(Protocol):
    """The node as the control API sees it."""

    @property
    def gateway(self) -> StationGateway:
        """The one way to send a command to a station."""
        ...

    @property
    def database(self) -> Database: ...

    @property
    def response_timeout(self) -> float:
        """How long a station has to answer a command (``ocpp.response_timeout``)."""
        ...

    def readiness(self) -> Mapping[str, bool]:
        """The node's own readiness checks (/readyz adds the API's)."""
        ...

    def stats(self) -> NodeStats: ...

    def subscribe(self, prefix: str) -> EventFeed:
        """The node's events whose subject starts with ``prefix``, from now on."""
        ...

    def unsubscribe(self, feed: EventFeed) -> None: ...

    async def station_snapshot(self, station_id: str) -> Any | None:
        """The live state of a connected station (attrs data), or None if it is not connected
        (or went away meanwhile)."""
        ...

    async def disconnect_station(self, station_id: str) -> None:
        """Close the station's connection, if any, and return once everything it handed the
        database before is committed (so a DELETE cannot be overtaken by its records); raises
        ``Unavailable`` when the database is not accepting writes."""
        ...

    def id_token_changed(self, id_token: str, type_: str) -> None:
        """The API changed an id token: the node forgets what it cached about it."""
        ...

    def v2g_user_changed(self, user_id: str) -> None:
        """The API changed a user's V2G preferences or id-token links (committed): the node's
        V2X owner forgets what it cached and offers V2X where it became allowed (Q02.FR.05)."""
        ...

    @property
    def v2g(self) -> V2GControl:
        """Discharge sessions."""
        ...

    @property
    def firmware(self) -> FirmwareControl:
        """Firmware jobs."""
        ...

    @property
    def prices(self) -> GridPriceControl:
        """Grid prices."""
        ...

    @property
    def money(self) -> MoneyControl:
        """V2G compensation and payouts."""
        ...

    @property
    def optimizer(self) -> OptimizerControl:
        """The V2G optimizer."""
        ...

    @property
    def certificates(self) -> CertificateControl:
        """The PKI: trust anchors and certificate events."""
        ...
