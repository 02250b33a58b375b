"""The OCPP WebSocket listener: accept, handshake, authenticate, then hand over to the handler.

One task per connection does the TLS handshake, reads the HTTP upgrade request into websockets'
sans-IO ``ServerProtocol``, decides (path, connection limit, client certificate, throttling,
credentials, subprotocol), answers, and then runs the handler with an :class:`OcppWebSocket`
beside a keepalive task in the connection's own nursery.
"""

from __future__ import annotations

import http
import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Sequence

import trio
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from ._auth import Authenticator, AuthResult, parse_basic_authorization
from ._connection import OcppWebSocket
from ._handshake import refusal, select_subprotocol, station_id_from_path
from ._settings import CompressionSettings, SecurityProfile, WebSocketSettings
from ._throttle import FailureThrottle
from ._tls import peer_certificate_names, server_ssl_context

_log = logging.getLogger("csms.transport")

# websockets logs every header at DEBUG (the Authorization header among them) and every
# connection at INFO; this transport logs for itself, so the library's logger stays silent.
_wire_log = logging.getLogger("csms.transport.wire")
_wire_log.disabled = True
_wire_log.propagate = False

Handler = Callable[[OcppWebSocket], Awaitable[object]]


class _Refused(Exception):
    """The handshake ends with this HTTP response (internal control flow)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _refuse(status: http.HTTPStatus, headers: Sequence[tuple[str, str]] = ()) -> _Refused:
    return _Refused(refusal(status, headers))


def _extension_factories(settings: CompressionSettings) -> list[ServerPerMessageDeflateFactory]:
    if not settings.enabled:
        return []
    no_takeover = not settings.context_takeover
    return [
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=no_takeover,
            client_no_context_takeover=no_takeover,
            server_max_window_bits=settings.max_window_bits,
            compress_settings={"memLevel": settings.mem_level},
        )
    ]


def _address(stream: trio.SocketStream) -> tuple[str, int]:
    peer = stream.socket.getpeername()
    return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else (str(peer), 0)


def _fmt(remote: tuple[str, int]) -> str:
    return f"{remote[0]}:{remote[1]}"


class OcppWebSocketServer:
    """A running listener: where it listens and how many connections it holds.

    Created by :func:`serve_ocpp_websocket` and handed out through ``task_status.started()``.
    """

    def __init__(
        self,
        handler: Handler,
        settings: WebSocketSettings,
        authenticator: Authenticator,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.settings = settings
        self._handler = handler
        self._authenticator = authenticator
        self._ssl_context = ssl_context
        self._extensions = _extension_factories(settings.compression)
        self._station_failures = FailureThrottle(settings.station_throttle)
        self._address_failures = FailureThrottle(settings.address_throttle)
        self._refusing = 0
        #: Connections handshaking or open.
        self.connection_count = 0
        #: (host, port) of each listening socket.
        self.addresses: list[tuple[str, int]] = []

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.addresses]

    async def handle_stream(self, transport: trio.SocketStream) -> None:
        """Serve one accepted TCP connection to its end."""
        try:
            remote = _address(transport)
        except OSError:  # already reset by the peer
            await trio.aclose_forcefully(transport)
            return
        if self.connection_count >= self.settings.max_connections:
            await self._refuse_overload(transport, remote)
            return
        self.connection_count += 1
        try:
            conn: OcppWebSocket | None = None
            with trio.move_on_after(self.settings.handshake_timeout) as scope:
                conn = await self._handshake(transport, remote)
            if scope.cancelled_caught:
                _log.info("handshake timed out", extra={"remote": _fmt(remote)})
            if conn is None:
                await trio.aclose_forcefully(transport)
                return
            await self._run(conn)
        except Exception:
            # A bug met by one connection must not take the listener (and every station) down.
            _log.exception("connection failed", extra={"remote": _fmt(remote)})
            await trio.aclose_forcefully(transport)
        finally:
            self.connection_count -= 1

    async def _refuse_overload(self, transport: trio.SocketStream, remote: tuple[str, int]) -> None:
        if self._refusing >= self.settings.max_refusals:
            await trio.aclose_forcefully(transport)
            return
        self._refusing += 1
        try:
            _log.warning("connection limit reached, refusing", extra={"remote": _fmt(remote)})
            with trio.move_on_after(self.settings.handshake_timeout):
                stream = await self._open_stream(transport, remote)
                if stream is not None:
                    proto = self._new_protocol()
                    if await self._read_request(stream, proto) is not None:
                        busy = http.HTTPStatus.SERVICE_UNAVAILABLE
                        proto.send_response(refusal(busy, [("Retry-After", "30")]))
                        await _send_pending(stream, proto)
        finally:
            self._refusing -= 1
            await trio.aclose_forcefully(transport)

    def _new_protocol(self) -> ServerProtocol:
        supported = self.settings.subprotocols
        return ServerProtocol(
            extensions=self._extensions,
            select_subprotocol=lambda _, offered: select_subprotocol(offered, supported),
            max_size=self.settings.max_message_size,
            logger=_wire_log,
        )

    async def _open_stream(
        self, transport: trio.SocketStream, remote: tuple[str, int]
    ) -> trio.abc.Stream | None:
        if self._ssl_context is None:
            return transport
        stream = trio.SSLStream(transport, self._ssl_context, server_side=True)
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as exc:
            # Includes client certificates that do not verify against the CA (profile 3).
            _log.info(
                "TLS handshake failed",
                extra={"remote": _fmt(remote), "error": str(exc.__cause__ or exc)},
            )
            return None
        return stream

    async def _read_request(self, stream: trio.abc.Stream, proto: ServerProtocol) -> Request | None:
        """The upgrade request, or None if the peer sent none (or garbage, already answered)."""
        while True:
            try:
                data = await stream.receive_some(self.settings.receive_buffer_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            for event in proto.events_received():
                if isinstance(event, Request):
                    return event
            if proto.handshake_exc is not None or not data:  # garbage (maybe answered) or EOF
                return None

    async def _handshake(
        self, transport: trio.SocketStream, remote: tuple[str, int]
    ) -> OcppWebSocket | None:
        stream = await self._open_stream(transport, remote)
        if stream is None:
            return None
        proto = self._new_protocol()
        request = await self._read_request(stream, proto)
        if request is None:
            await _send_pending(stream, proto)
            return None
        try:
            station_id, cert_cn = await self._authorize(request, stream, remote)
        except _Refused as refused:
            proto.send_response(refused.response)
            await _send_pending(stream, proto)
            return None
        response = proto.accept(request)
        proto.send_response(response)
        if not await _send_pending(stream, proto) or response.status_code != 101:
            return None
        conn = OcppWebSocket(
            stream,
            transport,
            proto,
            self.settings,
            station_id=station_id,
            subprotocol=proto.subprotocol or "",
            remote=remote,
            client_cert_cn=cert_cn,
        )
        if proto.subprotocol is None:
            # Part 4 §3.2: "If the CSMS does not agree to using one of the subprotocols offered
            # by the client, it MUST complete the WebSocket handshake with a response without a
            # Sec-WebSocket-Protocol header and then immediately close the WebSocket connection."
            _log.info(
                "no acceptable subprotocol, closing",
                extra={"station_id": station_id, "remote": _fmt(remote)},
            )
            await conn.close(CloseCode.PROTOCOL_ERROR, "no supported subprotocol")
            return None
        _log.info(
            "station connected",
            extra={
                "station_id": station_id,
                "remote": _fmt(remote),
                "subprotocol": conn.subprotocol,
                "compressed": conn.compressed,
            },
        )
        return conn

    async def _authorize(
        self, request: Request, stream: trio.abc.Stream, remote: tuple[str, int]
    ) -> tuple[str, str | None]:
        """The station id and certificate CN, or raises :class:`_Refused` with the answer."""
        settings = self.settings
        station_id = station_id_from_path(request.path, settings.path_prefix)
        log_extra = {"remote": _fmt(remote), "station_id": station_id}
        if station_id is None:
            _log.info("refused: no station id in path", extra=log_extra)
            raise _refuse(http.HTTPStatus.NOT_FOUND)

        cert_cn: str | None = None
        if settings.security_profile is SecurityProfile.TLS_CLIENT_CERT:
            assert isinstance(stream, trio.SSLStream)
            names = peer_certificate_names(stream)
            cert_cn = names.common_name if names else None
            org = settings.client_cert_organization
            if cert_cn != station_id or (org is not None and names and names.organization != org):
                _log.warning("refused: client certificate is not this station's", extra=log_extra)
                raise _refuse(http.HTTPStatus.FORBIDDEN)

        now = trio.current_time()
        station_key, address_key = f"station:{station_id}", f"address:{remote[0]}"
        wait = max(
            self._station_failures.retry_after(station_key, now) or 0.0,
            self._address_failures.retry_after(address_key, now) or 0.0,
        )
        if wait > 0:
            _log.warning("refused: throttled after repeated failures", extra=log_extra)
            retry_after = [("Retry-After", str(math.ceil(wait)))]
            raise _refuse(http.HTTPStatus.TOO_MANY_REQUESTS, retry_after)

        password: str | None = None
        if settings.uses_basic_auth:
            password = self._basic_password(request, station_id, address_key, now, log_extra)
        try:
            result = await self._authenticator.check(station_id, password)
        except Exception:
            # A storage outage is not the station's fault: no failure is counted; it retries.
            _log.exception("authenticator failed", extra=log_extra)
            raise _refuse(http.HTTPStatus.SERVICE_UNAVAILABLE, [("Retry-After", "30")]) from None
        if result is AuthResult.OK:
            self._station_failures.record_success(station_key)
            return station_id, cert_cn
        self._address_failures.record_failure(address_key, now)
        if result is AuthResult.UNKNOWN_STATION:
            _log.warning("refused: unknown station", extra=log_extra)
            raise _refuse(http.HTTPStatus.NOT_FOUND)
        self._station_failures.record_failure(station_key, now)
        _log.warning("refused: wrong password", extra=log_extra)
        raise _refuse(http.HTTPStatus.UNAUTHORIZED, _CHALLENGE)

    def _basic_password(
        self,
        request: Request,
        station_id: str,
        address_key: str,
        now: float,
        log_extra: dict[str, str | None],
    ) -> str:
        values = request.headers.get_all("Authorization")
        if not values:
            # A client may ask first and send credentials on the challenge: not a failure.
            _log.info("refused: no credentials", extra=log_extra)
            raise _refuse(http.HTTPStatus.UNAUTHORIZED, _CHALLENGE)
        credentials = parse_basic_authorization(values[0]) if len(values) == 1 else None
        if credentials is None or credentials[0] != station_id:
            # A00.FR.204: the username SHALL be the station identity from the URL.
            self._address_failures.record_failure(address_key, now)
            _log.warning("refused: malformed credentials or username mismatch", extra=log_extra)
            raise _refuse(http.HTTPStatus.UNAUTHORIZED, _CHALLENGE)
        return credentials[1]

    async def _run(self, conn: OcppWebSocket) -> None:
        log_extra = {"station_id": conn.station_id, "remote": _fmt(conn.remote)}
        code = CloseCode.NORMAL_CLOSURE
        try:
            if self.settings.ping_interval is None:
                code = await self._call_handler(conn, log_extra)
            else:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.keepalive)
                    code = await self._call_handler(conn, log_extra)
                    nursery.cancel_scope.cancel()
        except BaseException:  # cancelled from outside: the listener is stopping
            code = CloseCode.GOING_AWAY
            raise
        finally:
            with trio.CancelScope(shield=True):
                await conn.close(code)
            _log.info("station disconnected", extra=log_extra)

    async def _call_handler(self, conn: OcppWebSocket, log_extra: dict[str, str]) -> CloseCode:
        try:
            await self._handler(conn)
        except Exception:
            # One station's failure never touches another: log, close 1011, carry on.
            _log.exception("connection handler failed", extra=log_extra)
            return CloseCode.INTERNAL_ERROR
        return CloseCode.NORMAL_CLOSURE


_CHALLENGE = (("WWW-Authenticate", 'Basic realm="ocpp", charset="UTF-8"'),)


async def _send_pending(stream: trio.abc.Stream, proto: ServerProtocol) -> bool:
    """Write what the protocol has queued (a handshake response); False if the peer is gone."""
    data = b"".join(proto.data_to_send())
    if not data:
        return True
    try:
        await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    return True


async def serve_ocpp_websocket(
    handler: Handler,
    *,
    settings: WebSocketSettings,
    authenticator: Authenticator,
    host: str | None = None,
    port: int = 9000,
    task_status: trio.TaskStatus[OcppWebSocketServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host``:``port`` and serve OCPP WebSocket connections until cancelled.

    ``handler(conn)`` runs once per accepted connection, in that connection's task; when it
    returns (or raises, which is logged and answered with close code 1011) the connection is
    closed. ``task_status.started()`` receives the :class:`OcppWebSocketServer`, whose ``ports``
    say where it listens (useful with ``port=0``).
    """
    ssl_context = None
    if settings.tls is not None:
        ssl_context = server_ssl_context(settings.security_profile, settings.tls)
    server = OcppWebSocketServer(handler, settings, authenticator, ssl_context)
    listeners = await trio.open_tcp_listeners(port, host=host)
    for listener in listeners:
        sockname = listener.socket.getsockname()
        server.addresses.append((str(sockname[0]), int(sockname[1])))
    _log.info(
        "OCPP WebSocket listener started",
        extra={
            "addresses": ",".join(_fmt(a) for a in server.addresses),
            "security_profile": int(settings.security_profile),
        },
    )
    async with trio.open_nursery() as nursery:
        task_status.started(server)
        await trio.serve_listeners(server.handle_stream, listeners, handler_nursery=nursery)
