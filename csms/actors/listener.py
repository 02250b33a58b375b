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
from typing import TYPE_CHECKING

from csms.actors.station import StationActor, initial_boot_state, start_station
from csms.runtime import Actor, ActorContext
from csms.storage import stations
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


class StationAuthenticator:
    """Checks Basic-auth passwords against the stored salted hashes (constant-time compare).

    The station row read for that is kept for the connection that follows (``take_row``), so
    a connection costs one database read, which matters in a reconnect storm.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        # At most one row per registered station: a handshake that fails after authentication
        # leaves its row until that station connects again.
        self._rows: dict[str, stations.StationRow] = {}

    def take_row(self, station_id: str) -> stations.StationRow | None:
        return self._rows.pop(station_id, None)

    async def check(self, station_id: str, password: str | None) -> AuthResult:
        found = await self.node.reads.run(stations.login, station_id)
        if found is None:
            return await self._unknown(station_id, password)
        stored, row = found
        # password None: profile 3, the client certificate already proved the identity
        if password is not None and (stored is None or not verify_password(stored, password)):
            return AuthResult.BAD_PASSWORD
        self._rows[station_id] = row
        return AuthResult.OK

    async def _unknown(self, station_id: str, password: str | None) -> AuthResult:
        if not self.node.settings.ocpp.auto_register:
            return AuthResult.UNKNOWN_STATION
        if password is not None and not is_strong_password(password):
            return AuthResult.BAD_PASSWORD
        hashed = hash_password(password) if password is not None else None
        self._rows[station_id] = await self.node.reads.run(
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
    )


class ListenerActor(Actor):
    background_tasks = True

    def __init__(self, node: Node) -> None:
        self.node = node
        self.server: OcppWebSocketServer | None = None
        self.authenticator = StationAuthenticator(node)

    async def on_start(self, ctx: ActorContext) -> None:
        node = self.node
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
            row = await node.reads.run(stations.get, link.station_id)
        return await start_station(
            node.stations,
            link,
            node.services,
            boot_state=initial_boot_state(row),
            validate_outbound=node.validate_outbound,
        )
