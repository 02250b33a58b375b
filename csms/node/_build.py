"""Building and opening a node: its parts, its supervision tree, its database."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

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
    id_token_listener_spec,
    persistence_spec,
)
from csms.actors.certificates import certificate_verifier
from csms.actors.remote_gateway import cluster_gateway
from csms.actors.station import StationRoutes, StationServices
from csms.api import ADMIN_TOKEN_ENV, DRAIN_GRACE, HttpControlActor
from csms.config import Settings
from csms.node._capabilities import ChildFactory, RouteFactory, capabilities
from csms.node._control_plane import NodeControlPlane
from csms.node._nats import nats_server, relay_preferences
from csms.runtime import (
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    RestartIntensity,
    Strategy,
    Supervisor,
    WorkerThreads,
)
from csms.storage import EmbeddedPostgres, migrate_url

log = logging.getLogger("csms.node")


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
        # with NATS, stations held by other nodes are reached through it (remote_gateway)
        gateway=cluster_gateway(settings, LocalStationGateway(stations)),
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
    relay_preferences(root, parts.gateway)  # with NATS: other nodes' V2G preference changes
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
            # Plug & Charge Authorize (C07) asks the certificates owner
            certificates=certificate_verifier(root, settings.ocpp.response_timeout),
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
    async with database(settings) as url, nats_server(settings) as settings:
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
