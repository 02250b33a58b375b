"""Clients and certificates for the transport tests: real sockets on loopback, real TLS."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from csms.transport import (
    Authenticator,
    ConnectionClosed,
    OcppWebSocket,
    OcppWebSocketServer,
    WebSocketSettings,
    serve_ocpp_websocket,
)

PASSWORD = "Secret-password-0123456789"  # 26 chars of the passwordString alphabet


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- servers -------------------------------------------------------------------------------------


@attrs.define
class Recorder:
    """A handler that echoes text and remembers every connection and how it ended."""

    connections: list[OcppWebSocket] = attrs.Factory(list)
    received: list[str] = attrs.Factory(list)
    closed: list[ConnectionClosed] = attrs.Factory(list)
    ended: trio.Event = attrs.Factory(trio.Event)

    async def __call__(self, conn: OcppWebSocket) -> None:
        self.connections.append(conn)
        try:
            while True:
                message = await conn.receive_text()
                self.received.append(message)
                await conn.send_text(message)
        except ConnectionClosed as exc:
            self.closed.append(exc)
        finally:
            self.ended.set()


@asynccontextmanager
async def running_server(
    handler: object,
    settings: WebSocketSettings,
    authenticator: Authenticator,
) -> AsyncIterator[OcppWebSocketServer]:
    async with trio.open_nursery() as nursery:
        server: OcppWebSocketServer = await nursery.start(
            lambda task_status: serve_ocpp_websocket(
                handler,  # type: ignore[arg-type]
                settings=settings,
                authenticator=authenticator,
                host="127.0.0.1",
                port=0,
                task_status=task_status,
            )
        )
        yield server
        nursery.cancel_scope.cancel()


# --- a raw client that can misbehave -------------------------------------------------------------


class RawClient:
    """websockets' sans-IO client over a trio stream; nothing is sent unless asked (no pongs)."""

    def __init__(self, stream: trio.abc.Stream, proto: ClientProtocol, response: Response) -> None:
        self.stream = stream
        self.proto = proto
        self.response = response
        self._frames: list[Frame] = []

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str,
        *,
        subprotocols: Sequence[str] = ("ocpp2.0.1",),
        headers: dict[str, str] | None = None,
    ) -> RawClient:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        proto = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}{path}"),
            subprotocols=list(subprotocols),  # type: ignore[arg-type]
            max_size=None,
        )
        request = proto.connect()
        for name, value in (headers or {}).items():
            request.headers[name] = value
        proto.send_request(request)
        await stream.send_all(b"".join(proto.data_to_send()))
        while True:
            data = await stream.receive_some(65536)
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            for event in proto.events_received():
                if isinstance(event, Response):
                    client = cls(stream, proto, event)
                    return client
            if not data:
                raise ConnectionError("no handshake response")

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send_queued(self) -> None:
        """Write what the protocol has queued (frames built with ``proto.send_*``)."""
        await self.stream.send_all(b"".join(c for c in self.proto.data_to_send() if c))

    async def read_until_eof(self) -> list[Frame]:
        """Every frame the server sends until it closes TCP; pongs are never answered."""
        frames: list[Frame] = []
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if data:
                self.proto.receive_data(data)
            else:
                self.proto.receive_eof()
            frames.extend(e for e in self.proto.events_received() if isinstance(e, Frame))
            if not data:
                return frames

    async def aclose(self) -> None:
        await self.stream.aclose()


def close_codes(frames: list[Frame]) -> list[int]:
    from websockets.frames import Close

    return [Close.parse(f.data).code for f in frames if f.opcode is Opcode.CLOSE]


# --- certificates --------------------------------------------------------------------------------


def _name(cn: str, org: str = "Rede Carga") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )


@attrs.frozen
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


def _issue(
    subject: x509.Name,
    issuer: Issued | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@attrs.frozen
class Pki:
    """A CSMS CA with server and station certificates, another CA, all as PEM files."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    stations: dict[str, tuple[Path, Path]]  # name -> (cert, key)

    def client_context(self, station: str | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if station is not None:
            cert, key = self.stations[station]
            context.load_cert_chain(cert, key)
        return context


def make_pki(directory: Path) -> Pki:
    ca = _issue(_name("CSMS Root CA"), None, ca=True)
    other_ca = _issue(_name("Someone Else's CA", "Elsewhere"), None, ca=True)
    ca_path, _ = ca.write(directory, "ca")
    server_cert, server_key = _issue(_name("localhost"), ca, server=True).write(directory, "server")
    stations = {
        "CS001": _issue(_name("CS001"), ca).write(directory, "cs001"),
        "WRONG_CN": _issue(_name("CS999"), ca).write(directory, "wrong_cn"),
        "OTHER_CA": _issue(_name("CS001"), other_ca).write(directory, "other_ca"),
        "OTHER_ORG": _issue(_name("CS001", "Not The CSO"), ca).write(directory, "other_org"),
    }
    return Pki(directory, ca_path, server_cert, server_key, stations)
