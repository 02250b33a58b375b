"""Certificates end to end (OCPP 2.0.1 A02/A03, M01/M06, C07; Part 6 ``TC_A_*``, ``TC_M_*``,
``TC_C_5x``): a real node with its PKI configured, the fake OCSP responder, contract provider and
external CA on loopback, and an `ocpp`-package 2.0.1 charge point."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.x509 import ocsp
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from csms.services.ocsp_check import request_data
from csms.services.pki_csr import pem_chain
from csms.services.x509_chain import STATION as STATION_POLICY
from csms.services.x509_chain import validate_chain
from csms.storage import certificates as repo

from ..services.pki_builder import CONTRACT_EMAID, issue
from .certificate_peer import STATION, Rig, hash_entries, make_csr, rig


async def sign(r: Rig, csr: str, certificate_type: str = "ChargingStationCertificate") -> str:
    answer = await r.call(call201.SignCertificate(csr=csr, certificate_type=certificate_type))
    return str(answer.status)


async def test_tc_a_11_csr_signed_and_sent_back_with_certificate_signed(
    database_url, admin_env, bridge
):
    """TC_A_11_CSMS / A03 (A02.FR.11, A02.FR.14): SignCertificate with the station's CSR is
    Accepted; CertificateSigned follows with the chain signed by the configured CA (to the CSMS
    root, CN the station id) and certificateType; the accepted certificate is stored."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        csr, key = make_csr()
        assert await sign(r, csr) == "Accepted"
        sent = await r.command("CertificateSigned")
        assert sent["certificate_type"] == "ChargingStationCertificate"
        chain = x509.load_pem_x509_certificates(sent["certificate_chain"].encode())
        assert chain[0].public_key().public_numbers() == key.public_key().public_numbers()
        valid = validate_chain(
            chain, [r.pki.csms_root.cert], dt.datetime.now(dt.UTC), STATION_POLICY
        )
        assert valid.anchor == r.pki.csms_root.cert
        signed = await r.event("security.certificate.signed")
        assert (signed.station_id, signed.status) == (STATION, "Accepted")
        assert signed.serial_number == format(chain[0].serial_number, "X")
        rows = await r.node.database.run(repo.list_certificates, station_id=STATION)
        assert [(row.kind, row.serial_number) for row in rows] == [
            ("ChargingStationCertificate", signed.serial_number)
        ]


async def test_tc_a_14_station_rejects_the_signed_certificate(database_url, admin_env, bridge):
    """TC_A_14_CSMS: the station answers CertificateSigned Rejected; the CSMS records it (event
    with the status and a security.certificate.rejected) and stores nothing."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        r.answers["CertificateSigned"] = [{"status": "Rejected"}]
        assert await sign(r, make_csr()[0]) == "Accepted"
        await r.command("CertificateSigned")
        rejected = await r.event("security.certificate.rejected")
        assert (rejected.operation, rejected.status) == ("CertificateSigned", "Rejected")
        assert rejected.security_event == "InvalidChargingStationCertificate"
        assert (await r.event("security.certificate.signed")).status == "Rejected"
        assert await r.node.database.run(repo.list_certificates, station_id=STATION) == []


async def test_a02_fr_12_a_csr_with_a_foreign_cn_is_refused(database_url, admin_env, bridge):
    """A02.FR.12: a CSR whose CN is another station's, or of another organisation, is Rejected
    with the reason; no CertificateSigned is sent."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        answer = await r.call(
            call201.SignCertificate(
                csr=make_csr(cn="OTHER-CP")[0], certificate_type="ChargingStationCertificate"
            )
        )
        assert answer.status == "Rejected"
        assert answer.status_info["reason_code"] == "InvalidCSR"
        rejected = await r.event("security.certificate.rejected")
        assert rejected.reason == "CSR common name 'OTHER-CP' is not the station id"
        assert await sign(r, make_csr(organisation="Evil Inc")[0]) == "Rejected"
        assert "organisation 'Evil Inc'" in (await r.event("security.certificate.rejected")).reason
        assert r.commands.statistics().current_buffer_used == 0


async def test_tc_a_12_v2g_csr_forwarded_to_the_external_ca(database_url, admin_env, bridge):
    """TC_A_12_CSMS (V2GCertificate): without a CPO signer configured, the CSR goes to the
    external CA over HTTP and its chain is sent in CertificateSigned."""
    async with rig(database_url, bridge, external_ca=True) as r:
        await r.connect()
        csr, _ = make_csr(cn="SECC-0001")
        assert await sign(r, csr, "V2GCertificate") == "Accepted"
        sent = await r.command("CertificateSigned")
        assert sent["certificate_type"] == "V2GCertificate"
        chain = x509.load_pem_x509_certificates(sent["certificate_chain"].encode())
        iso = r.pki.iso
        assert chain[1:] == [iso.cpo_sub2.cert, iso.cpo_sub1.cert]
        assert r.fake.ca_requests[0]["stationId"] == STATION
        assert (await r.event("security.certificate.signed")).certificate_type == "V2GCertificate"


async def test_tc_m_24_certificate_status_by_ocsp_cached_until_next_update(
    database_url, admin_env, bridge
):
    """TC_M_24_CSMS (M06.FR.02/03/08/09): GetCertificateStatus for the CPO sub-CA: the CSMS asks
    the responder, answers Accepted with the DER OCSP response in base64; a second request is
    answered from the cache (the responder is asked once)."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        iso = r.pki.iso
        r.fake.know(iso.cpo_sub2.cert, iso.cpo_sub1)
        data = request_data(iso.cpo_sub2.cert, iso.cpo_sub1.cert)
        wire = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": data.issuer_name_hash,
            "issuer_key_hash": data.issuer_key_hash,
            "serial_number": data.serial_number,
            "responder_url": r.fake.ocsp_url,
        }
        for _ in range(2):
            answer = await r.call(call201.GetCertificateStatus(ocsp_request_data=wire))
            assert answer.status == "Accepted"
            response = ocsp.load_der_ocsp_response(base64.b64decode(answer.ocsp_result))
            assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
            assert response.serial_number == iso.cpo_sub2.cert.serial_number
        assert r.fake.ocsp_requests == [iso.cpo_sub2.cert.serial_number]


async def test_m06_fr_04_a_responder_no_anchor_vouches_for_is_never_asked(
    database_url, admin_env, bridge
):
    """M06.FR.04 and the SSRF guard: a responderURL neither a trust anchor nor the operator
    vouches for is Failed, and nothing is fetched."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        iso = r.pki.iso
        data = request_data(iso.cpo_sub2.cert, iso.cpo_sub1.cert)
        wire = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": data.issuer_name_hash,
            "issuer_key_hash": data.issuer_key_hash,
            "serial_number": data.serial_number,
            "responder_url": r.fake.base_url + "/internal-admin",
        }
        answer = await r.call(call201.GetCertificateStatus(ocsp_request_data=wire))
        assert answer.status == "Failed"
        assert "not vouched for" in (await r.event("security.certificate.rejected")).reason
        assert r.fake.ocsp_requests == []


async def test_tc_m_26_ev_certificate_forwarded_to_the_provider(database_url, admin_env, bridge):
    """TC_M_26_CSMS / TC_M_28_CSMS (M01.FR.01, M02.FR.01): Get15118EVCertificate's exiRequest
    goes to the contract-certificate provider; its exiResponse comes back Accepted."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        for action in ("Install", "Update"):
            answer = await r.call(
                call201.Get15118EVCertificate(
                    iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                    action=action,
                    exi_request="QUJDREVG",
                )
            )
            assert (answer.status, answer.exi_response) == ("Accepted", "EXI-RES:QUJDREVG")
        assert [b["action"] for b in r.fake.provider_requests] == ["Install", "Update"]
        assert r.fake.provider_requests[0]["stationId"] == STATION


async def test_m01_without_a_provider_the_answer_is_failed(database_url, admin_env, bridge):
    async with rig(database_url, bridge, **{"certificates.contract_provider_url": ""}) as r:
        await r.connect()
        answer = await r.call(
            call201.Get15118EVCertificate(
                iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                action="Install",
                exi_request="QQ==",
            )
        )
        assert answer.status == "Failed"
        assert (
            "no contract-certificate provider"
            in (await r.event("security.certificate.rejected")).reason
        )


def know_contract_chain(r: Rig, *, revoked: bool = False) -> None:
    iso, pki = r.pki.iso, r.pki
    r.fake.know(pki.contract.cert, iso.mo_sub2)
    r.fake.know(pki.revoked_contract.cert, iso.mo_sub2, revoked=revoked)
    r.fake.know(iso.mo_sub2.cert, iso.mo_sub1)
    r.fake.know(iso.mo_sub1.cert, iso.mo_root)


async def authorize(r: Rig, emaid: str, **kw) -> tuple[str, str]:
    answer = await r.call(call201.Authorize(id_token={"id_token": emaid, "type": "eMAID"}, **kw))
    return answer.certificate_status, answer.id_token_info["status"]


async def test_tc_c_50_hash_data_of_a_valid_contract_is_accepted(database_url, admin_env, bridge):
    """TC_C_50_CSMS (C07.FR.04/05/14): Authorize with iso15118CertificateHashData: the CSMS
    asks the responder of the hash data about each certificate; Accepted, Accepted. A second
    Authorize is answered from the cached OCSP answers."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        know_contract_chain(r)
        entries = hash_entries(r, r.pki.contract.cert)
        assert await authorize(r, CONTRACT_EMAID, iso15118_certificate_hash_data=entries) == (
            "Accepted",
            "Accepted",
        )
        assert len(r.fake.ocsp_requests) == 3
        assert await authorize(r, CONTRACT_EMAID, iso15118_certificate_hash_data=entries) == (
            "Accepted",
            "Accepted",
        )
        assert len(r.fake.ocsp_requests) == 3


async def test_tc_c_51_hash_data_of_a_revoked_contract(database_url, admin_env, bridge):
    """TC_C_51_CSMS (C07.FR.16): the responder says Revoked: CertificateRevoked, Invalid."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        know_contract_chain(r, revoked=True)
        entries = hash_entries(r, r.pki.revoked_contract.cert)
        assert await authorize(r, "DE83DUIEN83QGZD", iso15118_certificate_hash_data=entries) == (
            "CertificateRevoked",
            "Invalid",
        )
        rejected = await r.event("security.certificate.rejected")
        assert (rejected.operation, rejected.status) == ("Authorize", "CertificateRevoked")


async def test_tc_c_52_central_validation_of_the_certificate_chain(database_url, admin_env, bridge):
    """TC_C_52_CSMS (C07.FR.06, C07.FR.05): the station sends the contract chain (PEM) without
    hash data; the CSMS validates it to the MO root, computes the OCSP requests itself."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        know_contract_chain(r)
        iso = r.pki.iso
        chain = pem_chain([r.pki.contract.cert, iso.mo_sub2.cert, iso.mo_sub1.cert])
        assert await authorize(r, CONTRACT_EMAID, certificate=chain) == ("Accepted", "Accepted")
        assert r.fake.ocsp_requests == [r.pki.contract.cert.serial_number]
        # a chain whose CN is another EMAID than the token's cannot be this contract (C07.FR.17)
        assert await authorize(r, "DE83DUIEN83QGZD", certificate=chain) == (
            "CertChainError",
            "Invalid",
        )
        # the SECC chain does not chain to the MO root
        secc = pem_chain(iso.secc_chain)
        assert await authorize(r, CONTRACT_EMAID, certificate=secc) == ("CertChainError", "Invalid")


async def test_c07_fr_13_a_valid_contract_of_a_blocked_token_is_cancelled(
    database_url, admin_env, bridge
):
    """C07.FR.13: the chain is valid but the EMAID is unknown here (a 2.0.1 unknown token is
    Invalid): ContractCancelled with the token's status."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        know_contract_chain(r)
        entries = hash_entries(r, r.pki.contract.cert)
        assert await authorize(r, "NLTNM012345678W", iso15118_certificate_hash_data=entries) == (
            "ContractCancelled",
            "Invalid",
        )


async def test_plug_and_charge_with_a_2_1_station(database_url, admin_env, bridge):
    """OCPP 2.1 C07: the same contract checks for a 2.1 station (whose Authorize the V2X owner
    also amends): a valid contract Accepted, a revoked one CertificateRevoked and Invalid."""
    async with rig(database_url, bridge) as r:
        await r.connect_21()
        know_contract_chain(r, revoked=True)
        for leaf, emaid, expected in (
            (r.pki.contract.cert, CONTRACT_EMAID, ("Accepted", "Accepted")),
            (r.pki.revoked_contract.cert, "DE83DUIEN83QGZD", ("CertificateRevoked", "Invalid")),
        ):
            answer = await r.call(
                call21.Authorize(
                    id_token={"id_token": emaid, "type": "eMAID"},
                    iso_15118_certificate_hash_data=hash_entries(r, leaf),
                )
            )
            assert (answer.certificate_status, answer.id_token_info["status"]) == expected


async def test_m01_a_silent_provider_is_failed_within_its_timeout(database_url, admin_env, bridge):
    """Get15118EVCertificate waits at most provider_timeout_s (below the EV's ISO 15118 limit)."""
    async with rig(database_url, bridge, **{"certificates.provider_timeout_s": 0.5}) as r:
        await r.connect()
        r.fake.provider_hangs = True
        answer = await r.call(
            call201.Get15118EVCertificate(
                iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
                action="Install",
                exi_request="QQ==",
            )
        )
        assert answer.status == "Failed"
        assert "within 0.5 s" in (await r.event("security.certificate.rejected")).reason


async def test_a02_the_external_ca_refusing_is_recorded_failed(database_url, admin_env, bridge):
    """A02 error handling: the CSR was Accepted, the CA then refuses: no CertificateSigned, the
    operator sees a Failed signing and a security.certificate.rejected."""
    async with rig(database_url, bridge, external_ca=True) as r:
        await r.connect()
        r.fake.ca_signer = None
        assert await sign(r, make_csr(cn="SECC-0001")[0], "V2GCertificate") == "Accepted"
        rejected = await r.event("security.certificate.rejected")
        assert (rejected.operation, rejected.status) == ("SignCertificate", "Failed")
        assert "answered HTTP 503" in rejected.reason
        signings = await r.node.database.run(repo.list_signings, station_id=STATION)
        assert [(s.outcome, s.certificate_type) for s in signings] == [("Failed", "V2GCertificate")]


async def test_c07_fr_15_an_expired_contract(database_url, admin_env, bridge):
    """C07.FR.15: a contract chain whose leaf has expired: CertificateExpired and Expired."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        iso = r.pki.iso
        now = dt.datetime.now(dt.UTC)
        expired = issue(
            CONTRACT_EMAID,
            iso.mo_sub2,
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        )
        chain = pem_chain([expired.cert, iso.mo_sub2.cert, iso.mo_sub1.cert])
        assert await authorize(r, CONTRACT_EMAID, certificate=chain) == (
            "CertificateExpired",
            "Expired",
        )
