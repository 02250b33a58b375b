"""Security profile 3 end to end (A02/A03, A02.FR.08): a station connected with its client
certificate asks for a new one (SignCertificate with a fresh key), gets CertificateSigned from the
CSMS-side CA, reconnects with the new certificate and is accepted."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path
from typing import Any

import orjson
import trio
from cryptography.hazmat.primitives import serialization
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.transport.helpers import make_pki

from .certificate_peer import make_csr
from .peer import interop_node, register
from .test_wire import BOOT

ORGANISATION = "Rede Carga"  # the O of tests/transport/helpers.py's certificates


class Station:
    """A raw OCPP-J station over one WebSocket that answers the CSMS's CALLs Accepted and keeps
    them in ``inbox``."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.inbox: list[tuple[str, dict[str, Any]]] = []

    async def _take(self) -> list[Any]:
        frame = orjson.loads(await self.ws.get_message())
        if frame[0] == 2:
            self.inbox.append((frame[2], frame[3]))
            await self.ws.send_message(orjson.dumps([3, frame[1], {"status": "Accepted"}]).decode())
        return list(frame)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The CALLRESULT's payload to the CALL sent."""
        message_id = str(uuid.uuid4())
        await self.ws.send_message(orjson.dumps([2, message_id, action, payload]).decode())
        while True:
            frame = await self._take()
            if frame[0] == 3 and frame[1] == message_id:
                return dict(frame[2])

    async def received(self, action: str) -> dict[str, Any]:
        """The CALL of ``action`` the CSMS sent (answered Accepted)."""
        with trio.fail_after(30):  # a hang guard, not a timing assertion
            while not any(a == action for a, _ in self.inbox):
                await self._take()
        return next(p for a, p in self.inbox if a == action)


async def test_profile_3_station_renews_its_certificate_and_reconnects_with_it(
    database_url: str, tmp_path: Path
) -> None:
    """A03 end to end on mutual TLS: the client certificate signed by the configured CA (the
    same CA the listener trusts, ``ocpp.tls_ca``) is the one the station connects with next."""
    pki = make_pki(tmp_path)
    settings = {
        "ocpp.security_profile": 3,
        "ocpp.tls_cert": str(pki.server_cert),
        "ocpp.tls_key": str(pki.server_key),
        "ocpp.tls_ca": str(pki.ca),
        "certificates.csms_root_ca": str(pki.ca),
        "certificates.csms_ca_cert": str(pki.ca),
        "certificates.csms_ca_key": str(tmp_path / "ca.key"),
        "certificates.organisation": ORGANISATION,
    }
    async with interop_node(database_url, **settings) as (node, _):
        register(database_url, "CS001")
        url = f"wss://localhost:{node.ocpp_port}/ocpp/CS001"
        csr, key = make_csr(cn="CS001", organisation=ORGANISATION)
        async with open_websocket_url(
            url, subprotocols=["ocpp2.0.1"], ssl_context=pki.client_context("CS001")
        ) as ws:
            station = Station(ws)
            assert (await station.call("BootNotification", BOOT[3]))["status"] == "Accepted"
            answer = await station.call(
                "SignCertificate", {"csr": csr, "certificateType": "ChargingStationCertificate"}
            )
            assert answer["status"] == "Accepted"
            signed = await station.received("CertificateSigned")
        new_cert = tmp_path / "renewed.pem"
        new_cert.write_text(signed["certificateChain"])
        new_key = tmp_path / "renewed.key"
        new_key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(new_cert, new_key)
        async with open_websocket_url(url, subprotocols=["ocpp2.0.1"], ssl_context=context) as ws:
            assert (await Station(ws).call("BootNotification", BOOT[3]))["status"] == "Accepted"
