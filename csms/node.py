"""The composition root: which actors a node runs, what each is given, and the REST API's
``ControlPlane`` over them. The one module that imports both ``csms.actors`` and ``csms.api``
(tests/test_layering.py).

::

    node (rest_for_one)
    ├── persistence     permanent   the PostgreSQL writer (group commit)
    ├── stations        dynamic     one temporary station actor per connected charge point
    ├── ...             extra children (``extra_children``: capabilities)
    ├── http_control    permanent   the REST API (``http=True``), over a NodeControlPlane
    ├── ocpp_listener   permanent   accepts WebSocket connections, starts station actors
    └── id_tokens       permanent   LISTENs for id-token changes, keeps the id-token cache true

``rest_for_one``: a restarted persistence actor also restarts what was started after it, so
nothing keeps talking to a writer that is gone. The id-token listener comes last, so that
nothing else is restarted with it (the cache is bypassed while it is down). The database
(embedded or not) is set up and migrated before the tree starts and stopped after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from csms.actors import (
    DatabasePool,
    EventBus,
    IdTokens,
    ListenerActor,
    LocalStationGateway,
    Node,
    NodeParts,
    PersistenceSettings,
    firmware,
    id_token_listener_spec,
    persistence_spec,
    prices,
    v2g,
)
from csms.actors.events import Subscription
from csms.actors.firmware import firmware_child, firmware_routes
from csms.actors.station import GetSnapshot, Route, StationRoutes, StationServices
from csms.actors.v2g import v2g_session_routes, v2g_sessions_child
from csms.actors.v2x import NAME as V2X
from csms.actors.v2x import PreferencesChanged, v2x_child, v2x_routes
from csms.api import (
    ADMIN_TOKEN_ENV,
    DRAIN_GRACE,
    Conflict,
    DischargeStart,
    EventFeed,
    FirmwareUpdate,
    HttpControlActor,
    IdTokenStats,
    NodeStats,
    Unavailable,
)
from csms.commands import StationGateway
from csms.config import Settings
from csms.runtime import (
    ActorError,
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    RestartIntensity,
    Strategy,
    Supervisor,
    WorkerThreads,
    collect_stats,
)
from csms.services.grid_price_book import MarketQuery
from csms.services.v2g_preferences import time_zone
from csms.storage import EmbeddedPostgres, migrate_url
from csms.storage.firmware import FirmwareJobRow
from csms.storage.v2g_sessions import SessionRow

__all__ = [
    "ChildFactory",
    "NodeControlPlane",
    "NodeFirmware",
    "NodePrices",
    "NodeV2G",
    "RouteFactory",
    "build_node",
    "capabilities",
    "database",
    "http_control_child",
    "open_node",
    "raise_open_file_limit",
    "serve",
    "tune_garbage_collector",
]

log = logging.getLogger("csms.node")

#: An extra child of the node (a capability: later the V2G and firmware supervisors): given
#: the node's parts, its child spec, started after the stations.
ChildFactory = Callable[[NodeParts], ChildSpec]
#: The routes of the station messages an extra child owns (``csms/actors/station/_routes.py``):
#: given the tree (``root.ref(name)`` is the owner's address).
RouteFactory = Callable[[Supervisor], Iterable[Route]]


def capabilities(settings: Settings) -> tuple[tuple[ChildFactory, ...], tuple[RouteFactory, ...]]:
    """The capabilities every node runs (``csms serve``, and the nodes of the tests): their
    children and the routes of the station messages they own, ahead of ``build_node``'s
    ``extra_children`` and ``routes``."""
    children: tuple[ChildFactory, ...] = (
        v2x_child,  # V2X: station support, Authorize, charging needs (csms/actors/v2x)
        v2g_sessions_child,  # discharge sessions, one actor each (csms/actors/v2g)
        firmware_child,  # firmware updates, one job actor each (csms/actors/firmware)
        prices.prices_child,  # grid prices: the PLD from CCEE, kept in memory (csms/actors/prices)
    )
    routes: tuple[RouteFactory, ...] = (
        v2x_routes(settings.ocpp.response_timeout),
        v2g_session_routes,
        firmware_routes,
    )
    return children, routes


@attrs.frozen
class NodeControlPlane:
    """The REST API's ``ControlPlane`` over a node of this process."""

    node: Node

    @property
    def gateway(self) -> StationGateway:
        return self.node.gateway

    @property
    def database(self) -> DatabasePool:
        return self.node.database

    @property
    def response_timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout

    def readiness(self) -> Mapping[str, bool]:
        return {
            "database": self.node.persistence_status.ready,
            "ocppListener": bool(self.node.ocpp_addresses),
        }

    def stats(self) -> NodeStats:
        node = self.node
        routed: dict[tuple[str, str, str], int] = {}
        for route in node.routes:
            for outcome in ("routed", "dropped", "refused", "defaulted"):
                key = (route.action, outcome, route.name)
                routed[key] = routed.get(key, 0) + getattr(route.stats, outcome)
        ids = node.id_tokens
        cache = ids.cache.stats
        return NodeStats(
            stations_connected=len(node.stations.registry.names()),
            events_published=node.events.published,
            persistence=node.persistence_status,
            id_tokens=IdTokenStats(
                cache_hits=cache.hits,
                cache_misses=cache.misses,
                cache_invalidations=cache.invalidations,
                cache_entries=len(ids.cache),
                database_reads=ids.database_reads,
                listening=ids.listening,
            ),
            messages_received=dict(node.routes.received),
            routed=routed,
            actors=collect_stats(node.root),
        )

    def subscribe(self, prefix: str) -> Subscription:
        return self.node.events.subscribe(prefix)

    def unsubscribe(self, feed: EventFeed) -> None:
        assert isinstance(feed, Subscription)
        self.node.events.unsubscribe(feed)

    async def station_snapshot(self, station_id: str) -> Any | None:
        ref = self.node.stations.registry.lookup(station_id)
        if ref is None:
            return None
        try:
            return await ref.ask(GetSnapshot(), timeout=5)
        except (ActorError, TimeoutError):
            return None  # it went away meanwhile

    async def disconnect_station(self, station_id: str) -> None:
        node = self.node
        ref = node.stations.registry.lookup(station_id)
        if ref is not None:
            # closes its connection and waits until the actor is gone, so it cannot write again
            await node.stations.stop_child(ref)
        # A barrier: once an empty write is committed, everything the station's actor handed
        # the persistence actor before it is committed too (batches are written in order).
        try:
            await node.services.store()
        except (ActorError, TimeoutError):
            raise Unavailable("the database is not accepting writes; try again") from None

    def id_token_changed(self, id_token: str, type_: str) -> None:
        self.node.id_tokens.invalidate(id_token, type_)

    def v2g_user_changed(self, user_id: str) -> None:
        # a full or stopped owner forgets it within its cache's lifetime (30 s) anyway
        with contextlib.suppress(ActorError, KeyError):
            self.node.root.ref(V2X).tell_or_drop(PreferencesChanged(user_id))

    @property
    def v2g(self) -> NodeV2G:
        return NodeV2G(self.node)

    @property
    def firmware(self) -> NodeFirmware:
        return NodeFirmware(self.node)

    @property
    def prices(self) -> NodePrices:
        return NodePrices(self.node)


@attrs.frozen
class NodePrices:
    """The REST API's ``GridPriceControl`` over the node's prices actor (``csms/actors/prices``)."""

    node: Node

    @property
    def time_zone(self) -> dt.tzinfo:
        return time_zone(self.node.settings.v2g.time_zone)

    async def _ask(self, message: Any) -> Any:
        try:
            return await prices.ask_prices(self.node.root, message)
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's grid prices are not available") from None

    async def price(self, query: MarketQuery, at: dt.datetime) -> Any:
        return await self._ask(prices.PriceAt(query, at))

    async def forecast(self, query: MarketQuery, start: dt.datetime, hours: int) -> Any:
        return await self._ask(prices.Forecast(query, start, hours))

    async def best_hours(
        self, query: MarketQuery, start: dt.datetime, end: dt.datetime, power_w: Any, energy_wh: Any
    ) -> Any:
        return await self._ask(prices.BestHours(query, start, end, power_w, energy_wh))


@attrs.frozen
class NodeV2G:
    """The REST API's ``V2GControl`` over the node's discharge sessions (``csms/actors/v2g``):
    a refusal's stable code becomes a 409."""

    node: Node

    @property
    def _timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout + 5

    async def start_discharge(self, start: DischargeStart) -> SessionRow:
        request = v2g.StartDischarge(
            start.station_id,
            start.evse_id,
            start.power_w,
            start.duration_s,
            start.min_soc_percent,
            start.requested_by,
        )
        try:
            return await v2g.start_discharge(self.node.root, request, timeout=self._timeout)
        except v2g.DischargeRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's discharge sessions are not available") from None

    async def stop_discharge(
        self, session_id: uuid.UUID, *, requested_by: str
    ) -> SessionRow | None:
        try:
            return await v2g.stop_discharge(
                self.node.root, session_id, requested_by=requested_by, timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's discharge sessions are not available") from None


@attrs.frozen
class NodeFirmware:
    """The REST API's ``FirmwareControl`` over the node's firmware jobs (``csms/actors/firmware``):
    an update that could not be sent or answered becomes a 409 with its code."""

    node: Node

    @property
    def _timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout + 10

    async def start_update(self, update: FirmwareUpdate) -> FirmwareJobRow:
        start = firmware.StartUpdate(**attrs.asdict(update, recurse=False))
        try:
            return await firmware.start_update(self.node.root, start, timeout=self._timeout)
        except firmware.UpdateRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None

    async def cancel_job(self, job_id: uuid.UUID, *, requested_by: str) -> FirmwareJobRow | None:
        try:
            return await firmware.cancel_job(
                self.node.root, job_id, requested_by=requested_by, timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None


def http_control_child(node: Node) -> ChildSpec:
    """The REST API's child (``http_control``) over ``node``; its admin token is
    ``CSMS_ADMIN_TOKEN`` of the environment, read now."""
    return _http_control(lambda: node)


def _http_control(get_node: Callable[[], Node]) -> ChildSpec:
    admin_token = os.environ.get(ADMIN_TOKEN_ENV) or None

    def make() -> HttpControlActor:
        node = get_node()

        def listening(addresses: list[tuple[str, int]]) -> None:
            node.http_addresses = addresses

        return HttpControlActor(
            NodeControlPlane(node),
            host=node.settings.http.host,
            port=node.settings.http.port,
            admin_token=admin_token,
            on_listening=listening,
        )

    return ChildSpec.actor("http_control", make, kind="http", shutdown_timeout=DRAIN_GRACE + 3)


def build_node(
    settings: Settings,
    database_url: str,
    *,
    extra_children: tuple[ChildFactory, ...] = (),
    routes: tuple[RouteFactory, ...] = (),
    http: bool = False,
    validate_outbound: bool = False,
) -> Node:
    """The node's parts and its supervision tree, not started (``root.run`` starts it)."""
    own_children, own_routes = capabilities(settings)
    extra_children, routes = (*own_children, *extra_children), (*own_routes, *routes)
    db = settings.database
    persistence, status = persistence_spec(
        PersistenceSettings(
            database_url,
            batch_size=db.batch_max_rows,
            flush_interval=db.batch_max_delay_ms / 1000,
        ),
        threads=WorkerThreads(1, name="db-writer"),
        # Room for every station of a node to hand over a record at once (a mass disconnect
        # writes one presence record each) without waiting; the records are bounded separately
        # by max_buffered.
        mailbox_size=50_000,
    )
    stations = DynamicSupervisor(name="stations")
    database = DatabasePool(database_url, size=db.worker_threads)
    parts = NodeParts(
        settings=settings,
        database_url=database_url,
        events=EventBus(settings.node.id),
        database=database,
        id_tokens=IdTokens(database),
        persistence_status=status,
        stations=stations,
        gateway=LocalStationGateway(stations),
        validate_outbound=validate_outbound,
    )
    # The children that need the whole node (the REST API, the listener) make their actors
    # when the tree starts, from ``node`` as it is complete by then.
    children = [
        persistence,
        ChildSpec.supervisor("stations", stations),
        *(factory(parts) for factory in extra_children),
    ]
    if http:
        children.append(_http_control(lambda: node))
    children += [
        ChildSpec.actor(
            "ocpp_listener", lambda: ListenerActor(node), kind="listener", shutdown_timeout=5
        ),
        id_token_listener_spec(parts.id_tokens, database_url),
    ]
    root = Supervisor(
        Strategy.REST_FOR_ONE,
        children,
        intensity=RestartIntensity(max_restarts=5, within=60),
        backoff=Backoff(initial=0.5, maximum=10),
        name="node",
    )
    station_routes = StationRoutes(route for factory in routes for route in factory(root))
    station_routes.check(settings.ocpp.response_timeout)
    node = Node(
        **attrs.asdict(parts, recurse=False),
        root=root,
        routes=station_routes,
        services=StationServices(
            node_id=settings.node.id,
            persistence=root.ref("persistence"),
            database=database,
            events=parts.events,
            id_tokens=parts.id_tokens,
            heartbeat_interval=settings.ocpp.heartbeat_interval,
            response_timeout=settings.ocpp.response_timeout,
            routes=station_routes,
        ),
    )
    return node


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The database URL: ``database.url``, or an embedded server in ``database.data_dir``."""
    if settings.database.url:
        yield settings.database.url
        return
    server = EmbeddedPostgres(settings.database.data_dir)
    url = await trio.to_thread.run_sync(server.start)
    try:
        yield url
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)


@contextlib.asynccontextmanager
async def open_node(
    settings: Settings,
    *,
    extra_children: tuple[ChildFactory, ...] = (),
    routes: tuple[RouteFactory, ...] = (),
    http: bool = False,
    validate_outbound: bool = False,
) -> AsyncIterator[Node]:
    """Start a whole node (database, migrations, supervision tree); stop it on exit."""
    async with database(settings) as url:
        applied = await trio.to_thread.run_sync(migrate_url, url)
        if applied:
            log.info("migrations applied", extra={"migrations": ",".join(applied)})
        node = build_node(
            settings,
            url,
            extra_children=extra_children,
            routes=routes,
            http=http,
            validate_outbound=validate_outbound,
        )
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.root.run)
                log.info("node started", extra={"node": settings.node.id})
                try:
                    yield node
                finally:
                    with trio.CancelScope(shield=True):
                        await node.root.stop()
        finally:
            node.database.close()


def tune_garbage_collector() -> None:
    """For a node process, once it has started (docs/BENCHMARKS.md, station connectivity).

    What exists by then (modules, schemas, validators) lives as long as the process: freezing
    it keeps it out of the full collections that otherwise cost tens of milliseconds of p99
    under load. A message makes short-lived objects by the hundred, so the young generation is
    collected every 10,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def raise_open_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files to the hard limit; return the limit now in force.

    Every station holds a socket, and the usual soft limit (1024) would stop a node long before
    its memory does. Beyond the hard limit only the administrator can go: a warning names it.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = wanted + _SPARE_FILES if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
            soft = max(soft, target)
    if soft < wanted + _SPARE_FILES:
        log.warning(
            "open-file limit below what ocpp.max_connections needs",
            extra={"limit": soft, "max_connections": wanted, "spare": _SPARE_FILES},
        )
    return soft


# Descriptors besides the stations' sockets: listeners, database connections, logs, epoll.
_SPARE_FILES = 100


async def serve(settings: Settings) -> None:
    """Run a node until SIGINT or SIGTERM, then stop it in reverse order."""
    raise_open_file_limit(settings.ocpp.max_connections)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(settings, http=True) as node:
            tune_garbage_collector()
            for host, port in node.ocpp_addresses:
                scheme = "wss" if settings.ocpp.security_profile >= 2 else "ws"
                print(
                    f"OCPP:     {scheme}://{host}:{port}{settings.ocpp.path_prefix}/{{stationId}}"
                )
            for host, port in node.http_addresses:
                print(f"HTTP API: http://{host}:{port}/api/v1 (OpenAPI at /openapi.json)")
            if not os.environ.get(ADMIN_TOKEN_ENV):
                print(
                    f"No {ADMIN_TOKEN_ENV} set: create a token with "
                    "`csms token create --role admin --name NAME`"
                )
            print(f"csms node {settings.node.id} running; Ctrl-C stops it", flush=True)
            async for signum in signals:
                log.info("stopping", extra={"signal": signal.Signals(signum).name})
                break
    print("csms node stopped", flush=True)
