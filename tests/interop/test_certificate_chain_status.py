"""OCPP 2.1 GetCertificateChainStatus (M07) end to end: an `ocpp`-package 2.1 charge point asks
about the certificates of an EV's chain; the CSMS answers each by OCSP through the responders
its trust anchors vouch for, with the owner's cache."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from ocpp.v21 import call as call21

from csms.services.ocsp_check import request_data

from .certificate_peer import Rig, rig


def asked(
    certificate: x509.Certificate, issuer: x509.Certificate, urls: list[str], source: str = "OCSP"
) -> dict[str, Any]:
    data = request_data(certificate, issuer)
    hash_data = {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": data.issuer_name_hash,
        "issuer_key_hash": data.issuer_key_hash,
        "serial_number": data.serial_number,
    }
    return {"certificate_hash_data": hash_data, "source": source, "urls": urls}


async def chain_status(r: Rig, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await r.call(call21.GetCertificateChainStatus(certificate_status_requests=requests))
    return list(answer.certificate_status)


async def test_m07_each_certificate_of_the_chain_by_ocsp(database_url, admin_env, bridge):
    """M07.FR.01/03/08: each OCSP entry is asked of the first vouched URL of its ``urls`` and
    answered with the responder's status (Good, Revoked) and its nextUpdate, in the order
    asked; a second request is answered from the cache (the responder is asked once each)."""
    async with rig(database_url, bridge) as r:
        await r.connect_21()
        iso, pki = r.pki.iso, r.pki
        r.fake.know(iso.mo_sub2.cert, iso.mo_sub1)
        r.fake.know(pki.revoked_contract.cert, iso.mo_sub2, revoked=True)
        unvouched = r.fake.base_url + "/elsewhere"
        requests = [
            asked(iso.mo_sub2.cert, iso.mo_sub1.cert, [unvouched, r.fake.ocsp_url]),
            asked(pki.revoked_contract.cert, iso.mo_sub2.cert, [r.fake.ocsp_url]),
        ]
        before = dt.datetime.now(dt.UTC)
        for _ in range(2):
            statuses = await chain_status(r, requests)
            assert [s["status"] for s in statuses] == ["Good", "Revoked"]
            assert [s["certificate_hash_data"] for s in statuses] == [
                q["certificate_hash_data"] for q in requests
            ]
            for s in statuses:
                assert s["source"] == "OCSP"
                next_update = dt.datetime.fromisoformat(s["next_update"])
                assert next_update > before + r.fake.validity / 2
        assert sorted(r.fake.ocsp_requests) == sorted(
            [iso.mo_sub2.cert.serial_number, pki.revoked_contract.cert.serial_number]
        )
        rejected = await r.event("security.certificate.rejected")
        assert (rejected.operation, rejected.status) == ("GetCertificateChainStatus", "Revoked")


async def test_m07_fr_02_what_cannot_be_checked_is_failed(database_url, admin_env, bridge):
    """M07.FR.02 and the SSRF guard: an entry none of whose URLs is vouched for is Failed and
    nothing is fetched; so is one whose issuer is not a configured CA, one the responder does not
    know, and a CRL entry (the CSMS downloads no CRL). The good entry beside them is answered."""
    async with rig(database_url, bridge) as r:
        await r.connect_21()
        iso, pki = r.pki.iso, r.pki
        r.fake.know(iso.mo_sub2.cert, iso.mo_sub1)
        requests = [
            asked(iso.mo_sub2.cert, iso.mo_sub1.cert, [r.fake.base_url + "/internal-admin"]),
            asked(iso.mo_sub2.cert, iso.mo_sub1.cert, [r.fake.ocsp_url], source="CRL"),
            asked(pki.contract.cert, iso.mo_sub2.cert, [r.fake.ocsp_url]),  # unknown to it
            asked(iso.mo_sub2.cert, iso.mo_sub1.cert, [r.fake.ocsp_url]),
        ]
        statuses = await chain_status(r, requests)
        assert [(s["source"], s["status"]) for s in statuses] == [
            ("OCSP", "Failed"),
            ("CRL", "Failed"),
            ("OCSP", "Failed"),
            ("OCSP", "Good"),
        ]
        assert sorted(r.fake.ocsp_requests) == sorted(
            [pki.contract.cert.serial_number, iso.mo_sub2.cert.serial_number]
        )
        reasons = [(await r.event("security.certificate.rejected")).reason for _ in range(3)]
        assert any("not vouched for" in reason for reason in reasons)
        assert any("CRL" in reason for reason in reasons)
