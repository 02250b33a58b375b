"""The certificate endpoints' error paths and answers against the in-memory ControlPlane (no
node; the whole path against a real node is tests/interop/test_certificate_api.py)."""

from __future__ import annotations

from typing import Any

import httpx

from csms.services.pki_csr import pem_chain
from csms.services.pki_material import PkiMaterial
from csms.storage import certificates as repo

from ...services.pki_builder import CONTRACT_EMAID, make_iso_pki
from ..fake_control_plane import FakeControlPlane
from .conftest import accepted

BASE = "/api/v1/devices/CP001/certificates"


async def test_install_checks_the_station_then_the_certificate(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """404 for an unknown station before the body is looked at; 409 when it is not connected;
    422 naming ``certificate`` for what is not a PEM root. Nothing reaches the gateway."""
    root = pem_chain([make_iso_pki().mo_root.cert])
    body = {"certificateType": "MORootCertificate", "certificate": root}
    assert (await api.post(f"{BASE}/install", json=body)).status_code == 404
    control.register("CP001")
    reply = await api.post(f"{BASE}/install", json=body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "station_disconnected")
    control.connect("CP001", accepted)
    for certificate in ("not a PEM", pem_chain([make_iso_pki().mo_sub1.cert])):
        reply = await api.post(f"{BASE}/install", json={**body, "certificate": certificate})
        assert reply.status_code == 422
        assert reply.json()["error"]["field"] == "certificate"
    reply = await api.post(f"{BASE}/install", json={**body, "certificateType": "Nope"})
    assert (reply.status_code, reply.json()["error"]["field"]) == (422, "certificateType")
    assert control.gateway.sent == []


async def test_an_accepted_install_is_stored_and_published(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """M05.FR.02: Accepted, the root is stored for the station and the event published."""
    control.register("CP001")
    control.connect("CP001", accepted)
    stored: list[dict[str, Any]] = []
    control.database.answers[repo.by_hash_data] = lambda *hashes: []
    control.database.answers[repo.insert] = lambda **row: stored.append(row)
    root = make_iso_pki().mo_root.cert
    body = {"certificateType": "MORootCertificate", "certificate": pem_chain([root])}
    reply = await api.post(f"{BASE}/install", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "Accepted"
    [sent] = control.gateway.sent
    assert (sent.action, sent.payload["certificateType"]) == (
        "InstallCertificate",
        "MORootCertificate",
    )
    assert [(r["kind"], r["station_id"]) for r in stored] == [("MORootCertificate", "CP001")]
    [event] = control.certificates.published
    assert (event.station_id, event.status) == ("CP001", "Accepted")


async def test_renew_sends_the_trigger_of_the_type(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """A02: TriggerMessage SignV2GCertificate for one EVSE's SECC; a type nothing renews is a
    422 naming ``certificateType``."""
    control.register("CP001")
    control.connect("CP001", accepted)
    reply = await api.post(f"{BASE}/renew", json={"certificateType": "V2GCertificate", "evseId": 2})
    assert reply.status_code == 200, reply.text
    [sent] = control.gateway.sent
    assert dict(sent.payload) == {"requestedMessage": "SignV2GCertificate", "evse": {"id": 2}}
    reply = await api.post(f"{BASE}/renew", json={"certificateType": "CSMSRootCertificate"})
    assert (reply.status_code, reply.json()["error"]["field"]) == (422, "certificateType")


async def test_validate_gives_the_policy_verdict(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """POST /pki/validate: the contract chain to the configured MO root is valid with its
    EMAID; without the root it is a CertChainError with the reason; a bad kind is a 422."""
    iso = make_iso_pki()
    chain = pem_chain([iso.contract.cert, iso.mo_sub2.cert, iso.mo_sub1.cert])
    reply = await api.post("/api/v1/pki/validate", json={"pem": chain, "kind": "contract"})
    assert reply.json()["status"] == "CertChainError"
    control.certificates.material = PkiMaterial(mo_roots=(iso.mo_root.cert,))
    reply = await api.post("/api/v1/pki/validate", json={"pem": chain, "kind": "contract"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["valid"], reply.json()["emaid"]) == (True, CONTRACT_EMAID)
    reply = await api.post("/api/v1/pki/validate", json={"pem": chain, "kind": "wallet"})
    assert (reply.status_code, reply.json()["error"]["field"]) == (422, "kind")
