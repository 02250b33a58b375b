"""The certificates' REST API end to end (OCPP 2.0.1 M03-M05, A02; Part 6 ``TC_M_01``-``TC_M_21``,
``TC_A_11``): a real node, its REST API and an `ocpp`-package 2.0.1 charge point."""

from __future__ import annotations

import datetime as dt

import pytest
from ocpp.v201 import call as call201

from csms.actors.certificates._renewal import Renewals
from csms.services.pki_csr import hash_data, pem_chain, stored_columns
from csms.storage import certificates as repo

from ..services.pki_builder import CONTRACT_EMAID, issue
from .certificate_peer import STATION, hash_entries, make_csr, rig


@pytest.mark.parametrize(
    "certificate_type",
    [
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
    ],
)
async def test_tc_m_01_to_04_install_a_root_certificate(
    database_url, admin_env, bridge, certificate_type
):
    """TC_M_01..04_CSMS (M05.FR.01/02): InstallCertificate with the type and the PEM; Accepted
    is stored as installed on the station and listed; security.certificate.installed."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        root = r.pki.iso.v2g_root.cert
        answer = await r.api.post(
            f"/api/v1/devices/{STATION}/certificates/install",
            json={"certificateType": certificate_type, "certificate": pem_chain([root])},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "Accepted"
        sent = await r.command("InstallCertificate")
        assert (sent["certificate_type"], sent["certificate"]) == (
            certificate_type,
            pem_chain([root]),
        )
        listed = (await r.api.get("/api/v1/certificates", params={"stationId": STATION})).json()
        assert [(c["kind"], c["serialNumber"]) for c in listed["items"]] == [
            (certificate_type, hash_data(root).serial_number)
        ]
        installed = await r.event("security.certificate.installed")
        assert (installed.certificate_type, installed.status) == (certificate_type, "Accepted")


async def test_tc_m_05_install_failed_stores_nothing(database_url, admin_env, bridge):
    """TC_M_05_CSMS (M05.FR.03): the station answers Failed: reported, nothing stored."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        r.answers["InstallCertificate"] = [{"status": "Failed"}]
        answer = await r.api.post(
            f"/api/v1/devices/{STATION}/certificates/install",
            json={
                "certificateType": "CSMSRootCertificate",
                "certificate": pem_chain([r.pki.csms_root.cert]),
            },
        )
        assert answer.json()["status"] == "Failed"
        assert (await r.event("security.certificate.installed")).status == "Failed"
        assert await r.node.database.run(repo.list_certificates, station_id=STATION) == []


async def test_install_refuses_what_is_not_a_root_naming_the_field(database_url, admin_env, bridge):
    async with rig(database_url, bridge) as r:
        await r.connect()
        for certificate in ("not pem", pem_chain([r.pki.iso.cpo_sub1.cert])):
            answer = await r.api.post(
                f"/api/v1/devices/{STATION}/certificates/install",
                json={"certificateType": "V2GRootCertificate", "certificate": certificate},
            )
            assert answer.status_code == 422
            assert answer.json()["error"]["field"] == "certificate"


CHAIN = [
    {
        "certificate_type": "CSMSRootCertificate",
        "certificate_hash_data": {
            "hash_algorithm": "SHA384",
            "issuer_name_hash": "AB" * 24,
            "issuer_key_hash": "CD" * 24,
            "serial_number": "1F",
        },
    }
]


@pytest.mark.parametrize(
    ("types", "answer"),
    [
        (
            "CSMSRootCertificate",
            {"status": "Accepted", "certificate_hash_data_chain": CHAIN},
        ),  # TC_M_12
        ("V2GCertificateChain,MORootCertificate", {"status": "Accepted"}),  # TC_M_15/16
        ("", {"status": "Accepted"}),  # TC_M_18: no certificateType
        ("ManufacturerRootCertificate", {"status": "NotFound"}),  # TC_M_19
    ],
)
async def test_tc_m_12_to_19_installed_certificate_ids(
    database_url, admin_env, bridge, types, answer
):
    """TC_M_12..19_CSMS (M03.FR.01/02): GetInstalledCertificateIds with the types asked (none:
    all); the station's answer is returned."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        r.answers["GetInstalledCertificateIds"] = [answer]
        got = await r.api.get(
            f"/api/v1/devices/{STATION}/certificates/installed",
            params={"type": types} if types else {},
        )
        assert got.status_code == 200, got.text
        assert got.json()["status"] == answer["status"]
        if "certificate_hash_data_chain" in answer:  # SHA384 as the station hashed it
            chain = got.json()["response"]["certificateHashDataChain"]
            assert chain[0]["certificateHashData"]["hashAlgorithm"] == "SHA384"
        sent = await r.command("GetInstalledCertificateIds")
        assert sent.get("certificate_type") == (types.split(",") if types else None)


@pytest.mark.parametrize(("station_answer", "kept"), [("Accepted", 0), ("Failed", 1)])
async def test_tc_m_20_21_delete_a_certificate(
    database_url, admin_env, bridge, station_answer, kept
):
    """TC_M_20_CSMS / TC_M_21_CSMS (M04.FR.02/03/07): DeleteCertificate with the hash data as
    stored; Accepted removes it from what the station holds, Failed keeps it."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        root = r.pki.iso.mo_root.cert
        await r.api.post(
            f"/api/v1/devices/{STATION}/certificates/install",
            json={"certificateType": "MORootCertificate", "certificate": pem_chain([root])},
        )
        await r.command("InstallCertificate")
        r.answers["DeleteCertificate"] = [{"status": station_answer}]
        serial = hash_data(root).serial_number
        answer = await r.api.delete(f"/api/v1/devices/{STATION}/certificates/{serial}")
        assert answer.json()["status"] == station_answer
        sent = await r.command("DeleteCertificate")
        assert sent["certificate_hash_data"] == {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": hash_data(root).issuer_name_hash,
            "issuer_key_hash": hash_data(root).issuer_key_hash,
            "serial_number": serial,
        }
        assert len(await r.node.database.run(repo.list_certificates, station_id=STATION)) == kept
        assert (await r.event("security.certificate.deleted")).status == station_answer


async def test_delete_of_an_unknown_certificate_needs_its_hashes(database_url, admin_env, bridge):
    async with rig(database_url, bridge) as r:
        await r.connect()
        answer = await r.api.delete(f"/api/v1/devices/{STATION}/certificates/ABC123")
        assert (answer.status_code, answer.json()["error"]["field"]) == (422, "issuerNameHash")


@pytest.mark.parametrize(
    ("certificate_type", "requested"),
    [("V2GCertificate", "SignV2GCertificate"), ("CombinedCertificate", "SignCombinedCertificate")],
)
async def test_tc_a_12_13_renewal_of_v2g_and_combined_certificates(
    database_url, admin_env, bridge, certificate_type, requested
):
    """TC_A_12_CSMS / TC_A_13_CSMS: the renewal's TriggerMessage names the certificate asked."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        answer = await r.api.post(
            f"/api/v1/devices/{STATION}/certificates/renew",
            json={"certificateType": certificate_type, "evseId": 1},
        )
        assert answer.json()["status"] == "Accepted"
        trigger = await r.command("TriggerMessage")
        assert (trigger["requested_message"], trigger["evse"]) == (requested, {"id": 1})


async def test_tc_a_11_renewal_triggered_by_the_operator(database_url, admin_env, bridge):
    """TC_A_11_CSMS (A02, F06.FR.01): the operator's renewal sends TriggerMessage
    SignChargingStationCertificate; the station's SignCertificate gets CertificateSigned."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        answer = await r.api.post(
            f"/api/v1/devices/{STATION}/certificates/renew",
            json={"certificateType": "ChargingStationCertificate"},
        )
        assert answer.json()["status"] == "Accepted"
        trigger = await r.command("TriggerMessage")
        assert trigger["requested_message"] == "SignChargingStationCertificate"
        signed = await r.call(
            call201.SignCertificate(
                csr=make_csr()[0], certificate_type="ChargingStationCertificate"
            )
        )
        assert signed.status == "Accepted"
        await r.command("CertificateSigned")
        await r.event("security.certificate.signed")  # published once the outcome is recorded
        signings = await r.node.database.run(repo.list_signings, station_id=STATION)
        assert [s.outcome for s in signings] == ["Accepted"]


async def test_validate_and_contract_lookup(database_url, admin_env, bridge):
    """POST /api/v1/pki/validate and GET /api/v1/contracts/{emaid}: the verdict with its exact
    reason against the configured anchors."""
    async with rig(database_url, bridge) as r:
        iso = r.pki.iso
        chain = pem_chain([r.pki.contract.cert, iso.mo_sub2.cert, iso.mo_sub1.cert])
        good = (await r.api.post("/api/v1/pki/validate", json={"pem": chain})).json()
        assert (good["valid"], good["emaid"]) == (True, CONTRACT_EMAID)
        bad = (await r.api.post("/api/v1/pki/validate", json={"pem": chain, "kind": "secc"})).json()
        assert (bad["valid"], bad["status"]) == (False, "CertChainError")
        assert "does not chain to a trust anchor" in bad["reason"]
        assert (await r.api.get(f"/api/v1/contracts/{CONTRACT_EMAID}")).status_code == 404
        leaf = r.pki.contract.cert
        chain_certs = [leaf, iso.mo_sub2.cert, iso.mo_sub1.cert]
        await r.node.database.run(
            repo.insert,
            kind="ContractCertificate",
            emaid=CONTRACT_EMAID,
            **stored_columns(leaf, iso.mo_sub2.cert, chain_certs),
        )
        hashed = hash_data(leaf, iso.mo_sub2.cert)
        contract = (await r.api.get("/api/v1/contracts/DE-8AA-CA2B3C4D5-L")).json()
        assert contract["emaid"] == CONTRACT_EMAID
        assert contract["verdict"]["valid"] is True
        assert [c["serialNumber"] for c in contract["certificates"]] == [hashed.serial_number]


async def store_signed(r, valid_to: dt.datetime, kind: str = "ChargingStationCertificate") -> None:
    # only the row's dates matter here
    leaf = issue(
        STATION, r.pki.station_ca, not_before=valid_to - dt.timedelta(days=365), not_after=valid_to
    )
    await r.node.database.run(
        repo.insert,
        kind=kind,
        station_id=STATION,
        **stored_columns(leaf.cert, r.pki.station_ca.cert),
    )


async def test_a02_a_certificate_close_to_its_end_is_renewed(database_url, admin_env, bridge):
    """A02 by the scheduler: the station whose certificate ends within renew_before_days is sent
    TriggerMessage SignChargingStationCertificate (and V2G ones SignV2GCertificate)."""
    settings = {"certificates.renew_interval_s": 0.2}
    async with rig(database_url, bridge, **settings) as r:
        await r.connect()
        await store_signed(r, dt.datetime.now(dt.UTC) + dt.timedelta(days=10))
        trigger = await r.command("TriggerMessage")
        assert trigger["requested_message"] == "SignChargingStationCertificate"


async def test_renewal_checks_only_what_ends_soon_once_a_day(database_url, admin_env, bridge):
    """A certificate with a year left is not renewed; a due one is triggered once, not again at
    the next check the same day; a newer certificate for the station ends the renewal."""
    async with rig(database_url, bridge, **{"certificates.renew_interval_s": 0}) as r:
        await r.connect()
        node = r.node
        renewals = Renewals(
            gateway=node.gateway,
            database=node.database,
            config=node.settings.certificates,
            clock=lambda: dt.datetime.now(dt.UTC),
            command_timeout=10,
        )
        await store_signed(
            r, dt.datetime.now(dt.UTC) + dt.timedelta(days=300), "V2GCertificateChain"
        )
        assert await renewals.check() == []
        await store_signed(r, dt.datetime.now(dt.UTC) + dt.timedelta(days=5))
        assert await renewals.check() == [STATION]
        assert await renewals.check() == []
        assert (await r.command("TriggerMessage"))["requested_message"] == (
            "SignChargingStationCertificate"
        )
        await store_signed(r, dt.datetime.now(dt.UTC) + dt.timedelta(days=365))
        renewals._triggered.clear()  # a day later, say: the renewed certificate is the newest
        assert await renewals.check() == []


async def test_register_a_contract_then_revoke_it_on_the_local_list(
    database_url, admin_env, bridge
):
    """POST /api/v1/contracts validates the chain to the MO root and stores it by its EMAID;
    POST /api/v1/certificates/{id}/revoke puts it on the local list, and Authorize with its
    hash data answers CertificateRevoked without asking the responder (C07.FR.16)."""
    async with rig(database_url, bridge) as r:
        await r.connect()
        iso = r.pki.iso
        chain = pem_chain([r.pki.contract.cert, iso.mo_sub2.cert, iso.mo_sub1.cert])
        foreign = await r.api.post("/api/v1/contracts", json={"pem": pem_chain(iso.secc_chain)})
        assert (foreign.status_code, foreign.json()["error"]["field"]) == (422, "pem")
        created = await r.api.post("/api/v1/contracts", json={"pem": chain, "contractId": "C-1"})
        assert created.status_code == 201, created.text
        row = created.json()
        assert (row["kind"], row["emaid"]) == ("ContractCertificate", CONTRACT_EMAID)
        again = await r.api.post("/api/v1/contracts", json={"pem": chain})
        assert again.status_code == 409
        revoked = await r.api.post(f"/api/v1/certificates/{row['id']}/revoke")
        assert revoked.json()["revokedAt"] is not None
        assert (await r.api.post(f"/api/v1/certificates/{row['id']}/revoke")).status_code == 404
        entries = hash_entries(r, r.pki.contract.cert)
        answer = await r.call(
            call201.Authorize(
                id_token={"id_token": CONTRACT_EMAID, "type": "eMAID"},
                iso15118_certificate_hash_data=entries,
            )
        )
        assert (answer.certificate_status, answer.id_token_info["status"]) == (
            "CertificateRevoked",
            "Invalid",
        )
        assert r.fake.ocsp_requests == []


async def test_signings_list_how_each_request_ended(database_url, admin_env, bridge):
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.call(
            call201.SignCertificate(
                csr=make_csr(cn="NOT-ME")[0], certificate_type="ChargingStationCertificate"
            )
        )
        await r.event("security.certificate.rejected")
        r.answers["CertificateSigned"] = [{"status": "Rejected"}]
        await r.call(
            call201.SignCertificate(
                csr=make_csr()[0], certificate_type="ChargingStationCertificate"
            )
        )
        await r.event("security.certificate.signed")
        body = (
            await r.api.get("/api/v1/certificates/signings", params={"stationId": STATION})
        ).json()
        assert [(s["outcome"], s["certificateType"]) for s in body["items"]] == [
            ("StationRejected", "ChargingStationCertificate"),
            ("Rejected", "ChargingStationCertificate"),
        ]
        assert "common name 'NOT-ME'" in body["items"][1]["reason"]
