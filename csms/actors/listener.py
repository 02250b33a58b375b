"""The OCPP listener: accepts WebSocket connections and hands each to a new station actor.

The transport authenticates (security profiles 1-3) against the stations table; the connection's
own task then starts the station actor under the ``stations`` supervisor (replacing any actor
of the same id) and becomes that station's reader (``start_station``, then the actor's
``read_loop``) until the link or the actor ends; the transport then closes the socket with the
actor's close code.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, NoReturn

import attrs
import trio

from csms.actors.database import DatabasePool
from csms.actors.station import StationActor, initial_boot_state, start_station
from csms.runtime import Actor, ActorContext, WorkerThreads
from csms.storage import Connection, stations
from csms.transport import (
    AuthResult,
    OcppWebSocket,
    OcppWebSocketServer,
    SecurityProfile,
    TlsFiles,
    WebSocketSettings,
    hash_password,
    is_strong_password,
    serve_ocpp_websocket,
    verify_password,
)

if TYPE_CHECKING:
    from csms.actors.node import Node

log = logging.getLogger("csms.listener")


class WebSocketLink:
    """A transport connection seen as a station link.

    Receiving and sending are the connection's own methods (no wrapper frame in the reader's
    await chain); they raise the transport's ``ConnectionClosed``, a ``ConnectionError`` with a
    ``code``. ``close`` only records the code: the connection's task closes the socket once the
    station's reader has returned, so the actor never waits for a peer's close handshake (a
    half-dead peer would hold up the station's replacement by the transport's close timeout).
    """

    __slots__ = (
        "close_code",
        "close_reason",
        "receive_text",
        "send_text",
        "station_id",
        "subprotocol",
    )

    def __init__(self, conn: OcppWebSocket) -> None:
        self.station_id = conn.station_id
        self.subprotocol = conn.subprotocol
        self.receive_text = conn.receive_text
        self.send_text = conn.send_text
        self.close_code: int | None = None
        self.close_reason = ""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason


Login = tuple[str | None, stations.StationRow]


def read_logins(conn: Connection, station_ids: list[str]) -> dict[str, Login]:
    """:func:`stations.logins` on the handshakes' own connection, in autocommit: one round trip
    instead of three (BEGIN, SELECT, COMMIT); one SELECT needs no transaction around it."""
    if not conn.autocommit:
        conn.autocommit = True
    return stations.logins(conn, station_ids)


class LoginReadFailed(Exception):
    """The batched read a handshake waited for failed (the cause is chained)."""


@attrs.define(slots=True, eq=False)
class _Lookup:
    station_id: str
    done: trio.Event = attrs.Factory(trio.Event)
    found: Login | None = None
    error: BaseException | None = None


class LoginReads:
    """The handshakes' station reads, coalesced: one query and one worker-thread hop per batch.

    In a reconnect storm a thread hop and a query per connection cost the node more than the
    rest of the handshake; here the handshakes that arrive while a batch is being read all go
    into the next one (at most ``max_batch`` ids). A handshake on its own waits for its own read
    only. Credentials are read, not cached: another node's REST API may change a password or a
    registration status, and a revoked password must stop working at the next connection.
    ``run`` is the reading task; ``get`` waits for one station's turn.
    """

    def __init__(self, reads: DatabasePool, *, max_batch: int = 512) -> None:
        self._reads = reads
        self._max_batch = max_batch
        self._waiting: list[_Lookup] = []
        self._wakeup = trio.Event()
        #: Batches read and ids looked up, since the start (for tests and profiling).
        self.batches = 0
        self.lookups = 0

    async def get(self, station_id: str) -> Login | None:
        """(password hash, station row), or None if there is no such station."""
        lookup = _Lookup(station_id)
        self._waiting.append(lookup)
        self._wakeup.set()
        await lookup.done.wait()
        if lookup.error is not None:
            raise LoginReadFailed(f"reading station {station_id!r} failed") from lookup.error
        return lookup.found

    async def run(self) -> NoReturn:
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._read(batch)

    async def _read(self, batch: list[_Lookup]) -> None:
        ids = list({lookup.station_id: None for lookup in batch})
        try:
            found = await self._reads.run(read_logins, ids)
        except Exception as exc:
            for lookup in batch:
                lookup.error = exc
                lookup.done.set()
            return
        self.batches += 1
        self.lookups += len(batch)
        for lookup in batch:
            lookup.found = found.get(lookup.station_id)
            lookup.done.set()


class StationAuthenticator:
    """Checks Basic-auth passwords against the stored salted hashes (constant-time compare).

    The station row read for that (batched with the other handshakes', :class:`LoginReads`) is
    kept for the connection that follows (``take_row``): a connection costs no read of its own.
    """

    def __init__(self, node: Node, logins: LoginReads) -> None:
        self.node = node
        self.logins = logins
        # At most one row per registered station: a handshake that fails after authentication
        # leaves its row until that station connects again.
        self._rows: dict[str, stations.StationRow] = {}

    def take_row(self, station_id: str) -> stations.StationRow | None:
        return self._rows.pop(station_id, None)

    async def check(self, station_id: str, password: str | None) -> AuthResult:
        found = await self.logins.get(station_id)
        if found is None:
            return await self._unknown(station_id, password)
        stored, row = found
        profile = self.node.settings.ocpp.security_profile
        if row.security_profile > profile:
            # A05.FR.07: a station that connected with a higher profile may not come back lower
            log.warning(
                "refused: the station's security profile is higher than this listener's",
                extra={"station": station_id, "profile": row.security_profile},
            )
            return AuthResult.BAD_PASSWORD
        # password None: profile 3, the client certificate already proved the identity
        if password is not None and (stored is None or not verify_password(stored, password)):
            return AuthResult.BAD_PASSWORD
        if row.security_profile < profile:
            # the station is on a higher profile now (A05 upgrade): recorded, for the above
            await self.node.database.run(stations.set_security_profile, station_id, profile)
            row = attrs.evolve(row, security_profile=profile)
        self._rows[station_id] = row
        return AuthResult.OK

    async def _unknown(self, station_id: str, password: str | None) -> AuthResult:
        if not self.node.settings.ocpp.auto_register:
            return AuthResult.UNKNOWN_STATION
        if password is not None and not is_strong_password(password):
            return AuthResult.BAD_PASSWORD
        hashed = hash_password(password) if password is not None else None
        self._rows[station_id] = await self.node.database.run(
            functools.partial(stations.create, password_hash=hashed), station_id
        )
        log.warning(
            "station registered on first connection (auto_register is on)",
            extra={"station": station_id},
        )
        return AuthResult.OK


def websocket_settings(node: Node) -> WebSocketSettings:
    ocpp = node.settings.ocpp
    tls = None
    if ocpp.security_profile >= 2:
        assert ocpp.tls_cert is not None
        assert ocpp.tls_key is not None
        tls = TlsFiles(ocpp.tls_cert, ocpp.tls_key, ocpp.tls_ca)
    return WebSocketSettings(
        security_profile=SecurityProfile(ocpp.security_profile),
        tls=tls,
        path_prefix=ocpp.path_prefix,
        subprotocols=ocpp.versions,
        max_message_size=ocpp.max_message_size,
        ping_interval=ocpp.ping_interval,
        ping_timeout=ocpp.ping_timeout,
        handshake_timeout=ocpp.handshake_timeout,
        max_connections=ocpp.max_connections,
        max_accept_rate=ocpp.max_accept_rate,
    )


class ListenerActor(Actor):
    background_tasks = True

    def __init__(self, node: Node) -> None:
        self.node = node
        self.server: OcppWebSocketServer | None = None
        # The handshakes read on a connection and a thread of their own: in a reconnect storm
        # they must not queue behind the stations' reads (every BootNotification reads its
        # station), or the handshakes wait for the boots of those accepted before them.
        self._login_pool = DatabasePool(
            node.database_url, size=1, threads=WorkerThreads(1, name="db-login")
        )
        self.authenticator = StationAuthenticator(node, LoginReads(self._login_pool))

    async def on_start(self, ctx: ActorContext) -> None:
        node = self.node
        ctx.nursery.start_soon(self.authenticator.logins.run, name="csms.listener.logins")
        self.server = await ctx.nursery.start(
            functools.partial(
                serve_ocpp_websocket,
                self._connection,
                settings=websocket_settings(node),
                authenticator=self.authenticator,
                host=node.settings.ocpp.host,
                port=node.settings.ocpp.port,
            )
        )
        node.ocpp_addresses = list(self.server.addresses)

    async def on_stop(self, reason: BaseException | None) -> None:
        self._login_pool.close()

    async def _connection(self, conn: OcppWebSocket) -> None:
        # This task is the station's reader from here on: what its frame holds, every
        # connected station holds (so the station row stays in _start's frame).
        link = WebSocketLink(conn)
        actor = await self._start(link)
        await actor.read_loop()
        if link.close_code is not None:
            await conn.close(link.close_code, link.close_reason)

    async def _start(self, link: WebSocketLink) -> StationActor:
        node = self.node
        row = self.authenticator.take_row(link.station_id)
        if row is None:  # a concurrent handshake of the same id took it
            row = await node.database.run(stations.get, link.station_id)
        return await start_station(
            node.stations,
            link,
            node.services,
            boot_state=initial_boot_state(row),
            registration_status=row.registration_status if row is not None else None,
            validate_outbound=node.validate_outbound,
        )
