"""The node: the root of the supervision tree (SPEC section 1).

::

    node (rest_for_one)
    ├── persistence     permanent   the PostgreSQL writer (group commit)
    ├── stations        dynamic     one temporary station actor per connected charge point
    ├── http_control    permanent   the REST API (when an HTTP port is configured)
    ├── ocpp_listener   permanent   accepts WebSocket connections, starts station actors
    └── id_tokens       permanent   LISTENs for id-token changes, keeps the id-token cache true

``rest_for_one``: a restarted persistence actor also restarts what was started after it, so
nothing keeps talking to a writer that is gone. The id-token listener comes last, so that
nothing else is restarted with it (the cache is bypassed while it is down). The database
(embedded or not) is set up and migrated before the tree starts and stopped after it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterable

import attrs
import trio

from csms.actors.events import EventBus
from csms.actors.gateway import LocalStationGateway, StationGateway
from csms.actors.id_tokens import IdTokens, id_token_listener_spec
from csms.actors.listener import ListenerActor
from csms.actors.persistence import (
    PersistenceSettings,
    PersistenceStatus,
    ReadPool,
    persistence_spec,
)
from csms.actors.station import Route, StationRoutes, StationServices
from csms.config import Settings
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

#: Extra children (the HTTP control API, later the V2G and firmware supervisors) register a
#: factory here; each gets the node and returns its child spec, started after the stations.
ChildFactory = Callable[["Node"], ChildSpec]
#: The routes of the station messages an extra child owns (``csms/actors/station/_routes.py``):
#: called once the tree exists, with the node (``node.root.ref(name)`` is the owner's address).
RouteFactory = Callable[["Node"], Iterable[Route]]


@attrs.define
class Node:
    """A running node: what its actors and the REST API share."""

    settings: Settings
    database_url: str
    events: EventBus
    reads: ReadPool
    #: The id-token cache shared by every station and the REST API.
    id_tokens: IdTokens
    persistence_status: PersistenceStatus
    stations: DynamicSupervisor
    #: The one way to send commands to stations (the REST API's, and every actor's).
    gateway: StationGateway
    #: Check every outbound OCPP message against its schema (on in tests).
    validate_outbound: bool = False
    ocpp_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    http_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    # Set by build_node once the tree exists (the children refer back to the node).
    root: Supervisor = attrs.field(init=False)
    routes: StationRoutes = attrs.field(init=False)
    services: StationServices = attrs.field(init=False)

    @property
    def ocpp_port(self) -> int:
        return self.ocpp_addresses[0][1]


def build_node(
    settings: Settings,
    database_url: str,
    *,
    extra_children: tuple[ChildFactory, ...] = (),
    routes: tuple[RouteFactory, ...] = (),
    validate_outbound: bool = False,
) -> Node:
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
    reads = ReadPool(database_url, size=db.worker_threads)
    node = Node(
        settings=settings,
        database_url=database_url,
        events=EventBus(settings.node.id),
        reads=reads,
        id_tokens=IdTokens(reads),
        persistence_status=status,
        stations=stations,
        gateway=LocalStationGateway(stations),
        validate_outbound=validate_outbound,
    )
    listener = ChildSpec.actor(
        "ocpp_listener", lambda: ListenerActor(node), kind="listener", shutdown_timeout=5
    )
    node.root = Supervisor(
        Strategy.REST_FOR_ONE,
        [
            persistence,
            ChildSpec.supervisor("stations", stations),
            *(factory(node) for factory in extra_children),
            listener,
            id_token_listener_spec(node.id_tokens, database_url),
        ],
        intensity=RestartIntensity(max_restarts=5, within=60),
        backoff=Backoff(initial=0.5, maximum=10),
        name="node",
    )
    node.routes = StationRoutes(route for factory in routes for route in factory(node))
    node.routes.check(settings.ocpp.response_timeout)
    node.services = StationServices(
        node_id=settings.node.id,
        persistence=node.root.ref("persistence"),
        reads=node.reads,
        events=node.events,
        id_tokens=node.id_tokens,
        heartbeat_interval=settings.ocpp.heartbeat_interval,
        response_timeout=settings.ocpp.response_timeout,
        routes=node.routes,
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
            node.reads.close()


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
    from csms.actors.http_control import ADMIN_TOKEN_ENV, http_control_child

    raise_open_file_limit(settings.ocpp.max_connections)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(settings, extra_children=(http_control_child,)) as node:
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
