"""A whole node with its PKI configured, the fake PKI servers (OCSP responder, contract provider,
external CA) on loopback, its REST API, and an `ocpp`-package 2.0.1 charge point that answers
CertificateSigned (and the operator's certificate commands) with what the test queued and hands
each one to the trio side."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from csms.actors import Node, NodeParts
from csms.actors.events import Subscription
from csms.domain.events import Event
from csms.runtime import Actor, AsyncioThread, ChildSpec
from csms.services.ocsp_check import request_data
from csms.services.pki_csr import pem_chain
from csms.services.pki_material import Signer
from csms.storage import connect as db_connect
from csms.storage import stations, tokens
from csms.transport import hash_password

from ..actors.fake_pki_servers import FakePki, running_fake_pki
from ..api.conftest import ADMIN_TOKEN, api_node, client
from ..services.pki_builder import CONTRACT_EMAID, IsoPki, Issued, issue, make_iso_pki
from .peer import PASSWORD, Peer, Station201, open_peer

STATION = "PKI-CP1"
ORGANISATION = "Acme CPO"
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)


@attrs.frozen
class TestPki:
    iso: IsoPki
    csms_root: Issued
    station_ca: Issued
    #: A contract whose AIA names the fake responder (for central validation, C07.FR.06).
    contract: Issued
    revoked_contract: Issued


def make_test_pki(ocsp_url: str) -> TestPki:
    now = dt.datetime.now(dt.UTC)
    iso = make_iso_pki()
    root = issue(
        "CSMS Root CA",
        None,
        ca=True,
        pathlen=1,
        not_before=now - dt.timedelta(days=1),
        not_after=LATER,
    )
    sub = issue(
        "CSMS Station CA",
        root,
        ca=True,
        pathlen=0,
        not_before=now - dt.timedelta(days=1),
        not_after=LATER,
    )

    def contract(cn: str) -> Issued:
        return issue(
            cn,
            iso.mo_sub2,
            ocsp_url=ocsp_url,
            not_before=now - dt.timedelta(days=1),
            not_after=LATER,
        )

    return TestPki(iso, root, sub, contract(CONTRACT_EMAID), contract("DE83DUIEN83QGZD"))


def pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_csr(
    cn: str = STATION, organisation: str = ORGANISATION
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def pki_settings(pki: TestPki, fake: FakePki, **extra: Any) -> dict[str, Any]:
    iso = pki.iso
    return {
        "ocpp.ping_interval": 3600.0,
        "ocpp.response_timeout": 10.0,
        "certificates.organisation": ORGANISATION,
        "certificates.csms_root_ca": pem_chain([pki.csms_root.cert]),
        "certificates.csms_ca_cert": pem_chain([pki.station_ca.cert, pki.csms_root.cert]),
        "certificates.csms_ca_key": pem_key(pki.station_ca.key),
        "certificates.v2g_root_ca": pem_chain([iso.v2g_root.cert]),
        "certificates.v2g_sub_ca": pem_chain([iso.cpo_sub2.cert, iso.cpo_sub1.cert]),
        "certificates.mo_root_ca": pem_chain([iso.mo_root.cert]),
        "certificates.mo_sub_ca": pem_chain([iso.mo_sub2.cert, iso.mo_sub1.cert]),
        "certificates.ocsp_responders": [fake.ocsp_url],
        "certificates.contract_provider_url": f"{fake.base_url}/provider",
        **extra,
    }


def setup_database(database_url: str) -> None:
    with db_connect(database_url) as conn:
        stations.create(conn, STATION, password_hash=hash_password(PASSWORD))
        tokens.upsert_id_token(conn, CONTRACT_EMAID, "eMAID")
        tokens.upsert_id_token(conn, "DE83DUIEN83QGZD", "eMAID")
        conn.commit()


class Rig:
    def __init__(
        self, node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, fake: FakePki, pki: TestPki
    ) -> None:
        self.node, self.api, self.bridge, self.fake, self.pki = node, api, bridge, fake, pki
        self.events: Subscription | None = None
        self.peer: Peer | None = None
        self._in, self.commands = trio.open_memory_channel[tuple[str, dict[str, Any]]](100)
        #: What the charge point answers, by action (popped in order; Accepted when empty).
        self.answers: dict[str, list[dict[str, Any]]] = {}

    async def connect_21(self) -> Peer:
        """An OCPP 2.1 charge point (the package's defaults answer the CSMS's commands)."""
        self.peer = await open_peer(self.bridge, self.node.ocpp_port, STATION, version="ocpp2.1")
        await self.peer.call(
            call21.BootNotification(
                charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
            )
        )
        return self.peer

    async def connect(self) -> Peer:
        token = trio.lowlevel.current_trio_token()
        send, answers = self._in, self.answers

        def note(action: str, kw: dict[str, Any]) -> dict[str, Any]:
            trio.from_thread.run_sync(send.send_nowait, (action, kw), trio_token=token)
            queued = answers.get(action)
            return queued.pop(0) if queued else {"status": "Accepted"}

        class PkiStation(Station201):  # type: ignore[misc]
            @on("CertificateSigned")
            async def on_certificate_signed(self, **kw: Any) -> Any:
                return result201.CertificateSigned(**note("CertificateSigned", kw))

            @on("InstallCertificate")
            async def on_install_certificate(self, **kw: Any) -> Any:
                return result201.InstallCertificate(**note("InstallCertificate", kw))

            @on("DeleteCertificate")
            async def on_delete_certificate(self, **kw: Any) -> Any:
                return result201.DeleteCertificate(**note("DeleteCertificate", kw))

            @on("GetInstalledCertificateIds")
            async def on_installed_ids(self, **kw: Any) -> Any:
                return result201.GetInstalledCertificateIds(
                    **note("GetInstalledCertificateIds", kw)
                )

            @on("TriggerMessage")
            async def on_trigger(self, **kw: Any) -> Any:
                return result201.TriggerMessage(**note("TriggerMessage", kw))

        self.peer = await open_peer(
            self.bridge, self.node.ocpp_port, STATION, station_class=PkiStation
        )
        await self.peer.call(
            call201.BootNotification(
                charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
            )
        )
        return self.peer

    async def call(self, payload: Any) -> Any:
        assert self.peer is not None
        return await self.peer.call(payload)

    async def command(self, action: str) -> dict[str, Any]:
        """The next command of ``action`` the charge point received (others are skipped)."""
        with trio.fail_after(60):  # a hang guard, not a timing assertion
            async for received, kw in self.commands:
                if received == action:
                    return kw
        raise AssertionError("the charge point's channel closed")

    async def event(self, subject: str) -> Event:
        assert self.events is not None
        with trio.fail_after(60):
            async for event in self.events:
                if event.subject == subject:
                    return event
        raise AssertionError("the event feed ended")


@contextlib.asynccontextmanager
async def rig(
    database_url: str, bridge: AsyncioThread, *, external_ca: bool = False, **settings: Any
) -> AsyncIterator[Rig]:
    """``external_ca``: the fake's /ca signs with the CPO sub-CA, and is the node's ca_url."""
    feeds: list[Subscription] = []

    def certificate_events(parts: NodeParts) -> ChildSpec:
        feeds.append(parts.events.subscribe("security.certificate."))
        return ChildSpec.actor("certificate_events", Actor, kind="test")

    setup_database(database_url)
    async with running_fake_pki() as fake:
        pki = make_test_pki(fake.ocsp_url)
        if external_ca:
            iso = pki.iso
            fake.ca_signer = Signer(iso.cpo_sub2.cert, iso.cpo_sub2.key, (iso.cpo_sub1.cert,))
            settings["certificates.ca_url"] = f"{fake.base_url}/ca"
        async with (
            api_node(
                database_url,
                extra_children=(certificate_events,),
                **pki_settings(pki, fake, **settings),
            ) as node,
            client(node, ADMIN_TOKEN) as api,
        ):
            running = Rig(node, api, bridge, fake, pki)
            running.events = feeds[0]
            try:
                yield running
            finally:
                node.events.unsubscribe(feeds[0])
                if running.peer is not None:
                    with contextlib.suppress(Exception):
                        await running.peer.close()


def hash_entries(r: Rig, leaf: x509.Certificate) -> list[dict[str, str]]:
    iso = r.pki.iso
    pairs = [
        (leaf, iso.mo_sub2.cert),
        (iso.mo_sub2.cert, iso.mo_sub1.cert),
        (iso.mo_sub1.cert, iso.mo_root.cert),
    ]
    entries = []
    for certificate, issuer in pairs:
        data = request_data(certificate, issuer)
        entries.append(
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": data.issuer_name_hash,
                "issuer_key_hash": data.issuer_key_hash,
                "serial_number": data.serial_number,
                "responder_url": r.fake.ocsp_url,
            }
        )
    return entries
