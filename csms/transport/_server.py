"""The OCPP WebSocket listener: accept, handshake, authenticate, then hand over to the handler.

One task per connection does the TLS handshake, reads the HTTP upgrade request into websockets'
sans-IO ``ServerProtocol``, decides (path, connection limit, client certificate, throttling,
credentials, subprotocol), answers, and then runs the handler with an :class:`OcppWebSocket`;
it is the connection's only task (pings come from the listener's :class:`Keepalive`). The task
is started straight from the accept loop and its await chain kept short: an idle connection's
memory is mostly its task and the coroutine frames it is suspended in.
"""

from __future__ import annotations

import errno
import http
import logging
import math
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import trio
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import CloseCode, Frame
from websockets.http11 import Request, Response
from websockets.protocol import OPEN, Protocol
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from ._auth import Authenticator, AuthResult, parse_basic_authorization
from ._connection import OcppWebSocket
from ._handshake import refusal, select_subprotocol, station_id_from_path
from ._keepalive import Keepalive
from ._settings import CompressionSettings, SecurityProfile, WebSocketSettings
from ._throttle import AcceptRateGuard, FailureThrottle
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
        self._accept_guard: AcceptRateGuard | None = None
        if settings.max_accept_rate > 0:
            burst = settings.accept_burst or max(1, math.ceil(settings.max_accept_rate / 10))
            self._accept_guard = AcceptRateGuard(settings.max_accept_rate, burst)
        #: Connections refused by the accept-rate guard since the listener started.
        self.rate_refusals = 0
        self._rate_refusals_logged = 0
        self._rate_logged_at = -math.inf
        supported = settings.subprotocols

        # A plain function, made once: websockets binds it to each protocol with __get__.
        def choose(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
            return select_subprotocol(offered, supported)

        self._choose_subprotocol = choose
        self._keepalive: Keepalive | None = None
        if settings.ping_interval is not None:
            self._keepalive = Keepalive(settings.ping_interval, settings.ping_timeout)
        #: Connections handshaking or open.
        self.connection_count = 0
        #: Accepted connections whose handshake (or refusal) has not ended yet.
        self.handshaking = 0
        #: (host, port) of each listening socket.
        self.addresses: list[tuple[str, int]] = []

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.addresses]

    async def handle_stream(self, transport: trio.SocketStream) -> None:
        """Serve one accepted TCP connection to its end (counted in ``handshaking`` by the accept
        loop until its handshake ends)."""
        try:
            remote = _address(transport)
        except OSError:  # already reset by the peer
            self.handshaking -= 1
            await trio.aclose_forcefully(transport)
            return
        retry_after = 0
        if self._accept_guard is not None:
            retry_after = self._accept_guard.admit(trio.current_time())
            if retry_after:
                self._log_rate_refusal(remote)
        if not retry_after and self.connection_count >= self.settings.max_connections:
            _log.warning("connection limit reached, refusing", extra={"remote": _fmt(remote)})
            retry_after = 30
        if retry_after:
            try:
                await self._refuse_busy(transport, remote, retry_after)
            finally:
                self.handshaking -= 1
            return
        self.connection_count += 1
        conn: OcppWebSocket | None = None
        code = CloseCode.NORMAL_CLOSURE
        try:
            conn = await self._handshake_in_time(transport, remote)
            if conn is None:
                return
            if self._keepalive is not None:
                self._keepalive.watch(conn)
            try:
                await self._handler(conn)
            except Exception:
                # One station's failure never touches another: log, close 1011, carry on.
                _log.exception(
                    "connection handler failed",
                    extra={"station_id": conn.station_id, "remote": _fmt(remote)},
                )
                code = CloseCode.INTERNAL_ERROR
        except Exception:
            # A bug met by one connection must not take the listener (and every station) down.
            _log.exception("connection failed", extra={"remote": _fmt(remote)})
            code = CloseCode.INTERNAL_ERROR
        except BaseException:  # cancelled from outside: the listener is stopping
            code = CloseCode.GOING_AWAY
            raise
        finally:
            with trio.CancelScope(shield=True):
                if conn is None:
                    await trio.aclose_forcefully(transport)
                else:
                    await conn.close(code)
                    _log.info(
                        "station disconnected",
                        extra={"station_id": conn.station_id, "remote": _fmt(remote)},
                    )
            self.connection_count -= 1  # a closing connection still holds its socket

    async def _handshake_in_time(
        self, transport: trio.SocketStream, remote: tuple[str, int]
    ) -> OcppWebSocket | None:
        # A method of its own so that the timeout's cancel scope is not kept, for the
        # connection's whole life, by the frame of the task that goes on to run the handler.
        try:
            with trio.move_on_after(self.settings.handshake_timeout) as scope:
                return await self._handshake(transport, remote)
            if scope.cancelled_caught:
                _log.info("handshake timed out", extra={"remote": _fmt(remote)})
            return None
        finally:
            self.handshaking -= 1

    def _log_rate_refusal(self, remote: tuple[str, int]) -> None:
        # A storm refuses hundreds a second: one line per 10 s, with the count since the last.
        self.rate_refusals += 1
        now = trio.current_time()
        if now - self._rate_logged_at >= 10.0:
            _log.warning(
                "accept rate exceeded, refusing new connections with 503",
                extra={
                    "remote": _fmt(remote),
                    "refused": self.rate_refusals - self._rate_refusals_logged,
                    "max_accept_rate": self.settings.max_accept_rate,
                },
            )
            self._rate_logged_at = now
            self._rate_refusals_logged = self.rate_refusals

    async def _refuse_busy(
        self, transport: trio.SocketStream, remote: tuple[str, int], retry_after: int
    ) -> None:
        """Answer the upgrade request with 503 and ``Retry-After``, then close; at most
        ``max_refusals`` at a time (beyond it the socket is closed unanswered), each bounded by
        the handshake timeout."""
        if self._refusing >= self.settings.max_refusals:
            await trio.aclose_forcefully(transport)
            return
        self._refusing += 1
        try:
            with trio.move_on_after(self.settings.handshake_timeout):
                stream = await self._open_stream(transport, remote)
                if stream is not None:
                    proto = self._new_protocol()
                    if await self._read_request(stream, proto) is not None:
                        busy = http.HTTPStatus.SERVICE_UNAVAILABLE
                        proto.send_response(refusal(busy, [("Retry-After", str(retry_after))]))
                        await _send_pending(stream, proto)
        finally:
            self._refusing -= 1
            await trio.aclose_forcefully(transport)

    def _new_protocol(self) -> ServerProtocol:
        return ServerProtocol(
            extensions=self._extensions,
            select_subprotocol=self._choose_subprotocol,
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

    async def _read_request(
        self, stream: trio.abc.Stream, proto: ServerProtocol
    ) -> tuple[Request, list[Frame]] | None:
        """The upgrade request and any frames that came in its wake, or None if the peer sent
        no request (or garbage, already answered)."""
        while True:
            try:
                data = await stream.receive_some(self.settings.receive_buffer_size)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            events = proto.events_received()
            if events and isinstance(events[0], Request):
                # A client should wait for the 101 before it sends frames (RFC 6455 §4.1);
                # one that did not still gets its messages delivered.
                return events[0], cast(list[Frame], events[1:])
            if proto.handshake_exc is not None or not data:  # garbage (maybe answered) or EOF
                return None

    async def _handshake(
        self, transport: trio.SocketStream, remote: tuple[str, int]
    ) -> OcppWebSocket | None:
        stream = await self._open_stream(transport, remote)
        if stream is None:
            return None
        proto = self._new_protocol()
        received = await self._read_request(stream, proto)
        if received is None:
            await _send_pending(stream, proto)
            return None
        request, early_frames = received
        try:
            station_id, cert_cn = await self._authorize(request, stream, remote)
        except _Refused as refused:
            proto.send_response(refused.response)
            await _send_pending(stream, proto)
            return None
        response = proto.accept(request)
        proto.send_response(response)
        # The request stays referenced by the protocol's parser for the connection's life; its
        # headers (a few KiB, the credentials among them) are not needed past this point.
        request.headers.clear()
        if not await _send_pending(stream, proto) or response.status_code != 101:
            return None
        _drop_handshake_parser(proto)
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
        if early_frames:
            conn.receive_early(early_frames)
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


_CHALLENGE = (("WWW-Authenticate", 'Basic realm="ocpp", charset="UTF-8"'),)


def _drop_handshake_parser(proto: ServerProtocol) -> None:
    """Swap the parser of an upgraded connection for a fresh frame parser, if it is safe.

    ``ServerProtocol.parse`` goes on parsing frames inside the generator that parsed the request,
    so its frame (and the request) would live as long as the connection. When nothing past the
    request has arrived, the frame parser inside has consumed nothing and a fresh
    ``Protocol.parse`` is in the same state, started the way websockets starts its parsers.
    """
    if proto.state is OPEN and not proto.reader.buffer:
        proto.parser = Protocol.parse(proto)
        next(proto.parser)


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
    listeners = await trio.open_tcp_listeners(port, host=host, backlog=settings.listen_backlog)
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
        if server._keepalive is not None:
            nursery.start_soon(server._keepalive.run, nursery)
        for listener in listeners:
            nursery.start_soon(_accept_loop, listener, server, nursery)
        task_status.started(server)


# accept() failing for want of file descriptors or memory: wait and retry, as trio's
# serve_listeners does, rather than stop listening.
_ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
# The peer gave up between its connect and our accept: nothing to serve, carry on.
_ACCEPT_GONE_ERRNOS = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})


#: The accept loop takes more than one connection per pass of the scheduler only while fewer
#: handshakes than this are in progress.
_DRAIN_BELOW = 64


async def _accept_loop(
    listener: trio.SocketListener, server: OcppWebSocketServer, nursery: trio.Nursery
) -> None:
    """Accept connections for ever, each handled in a task of its own started right here (no
    wrapper coroutine around the handler: one frame less in every connection's task).

    ``listener.accept()`` takes one connection per pass of the scheduler. In a reconnect storm,
    with the boots of the stations already in runnable, a pass takes long enough that the
    kernel's queue grows and the stations' wait in it becomes most of their connect time. So
    after each connection it waits for, the loop takes what else is queued without waiting
    (from a duplicate of the listening socket), as long as fewer than ``_DRAIN_BELOW``
    handshakes are in progress: beyond that the handshakes in flight would share the CPU and
    all finish late, and the rest are better off waiting in the kernel's queue, in order.
    """
    handle = server.handle_stream
    async with listener:
        with socket.socket(fileno=os.dup(listener.socket.fileno())) as raw:
            raw.setblocking(False)
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno not in _ACCEPT_CAPACITY_ERRNOS:
                        raise
                    _log.error(
                        "accept failed, retrying in 0.1 s",
                        extra={"error": errno.errorcode.get(exc.errno or 0, str(exc.errno))},
                    )
                    await trio.sleep(0.1)
                    continue
                server.handshaking += 1
                nursery.start_soon(handle, stream, name="csms.transport.connection")
                while server.handshaking < _DRAIN_BELOW:
                    try:
                        sock, _peer = raw.accept()
                    except OSError as exc:
                        if exc.errno in _ACCEPT_GONE_ERRNOS:
                            continue
                        break  # nothing queued (EAGAIN), or an error the next accept() meets
                    stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
                    server.handshaking += 1
                    nursery.start_soon(handle, stream, name="csms.transport.connection")
