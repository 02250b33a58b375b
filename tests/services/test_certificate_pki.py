"""The PKI's pure parts: CSR checks and signing (A02/A03), the material from PEM settings, the
Authorize answer for a contract (C07.FR.13-17), hash data, a chain's verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from csms.services.ocsp_check import request_data
from csms.services.pki_contract import (
    contract_answer,
    find_issuer,
    parse_chain,
    request_data_list,
    verdict,
)
from csms.services.pki_csr import (
    CHARGING_STATION,
    V2G,
    V2G20,
    CsrRejected,
    check_csr,
    hash_data,
    pem_chain,
    sign_csr,
)
from csms.services.pki_material import PkiMaterial, PkiMaterialError, Signer, load_material
from csms.services.x509_chain import STATION, CertChainError, validate_chain

from .pki_builder import CONTRACT_EMAID, NOW, issue, make_iso_pki


def csr(
    cn: str = "CP001",
    org: str | None = "Acme CPO",
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org is not None:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def check(pem: str, kind: str = CHARGING_STATION) -> x509.CertificateSigningRequest:
    return check_csr(pem, certificate_type=kind, station_id="CP001", organisation="Acme CPO")


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_a02_fr_11_a_good_csr_passes() -> None:
    """A02.FR.11: a CSR of the station's own CN and the organisation is accepted."""
    assert check(csr()).subject.rfc4514_string() == "O=Acme CPO,CN=CP001"


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        (csr(cn="CP999"), CHARGING_STATION, "common name 'CP999' is not the station id"),
        (csr(org="Other"), CHARGING_STATION, "organisation 'Other' is not 'Acme CPO'"),
        (csr(org=None), CHARGING_STATION, "organisation None"),
        ("not a csr", CHARGING_STATION, "not a PEM certificate signing request"),
        (
            csr(key=rsa.generate_private_key(65537, 1024)),
            CHARGING_STATION,
            "RSA key of 1024 bits",
        ),
        (csr(key=ec.generate_private_key(ec.SECP384R1())), V2G, "curve secp384r1"),
        (csr(), "ManufacturerRootCertificate", "cannot be signed"),
    ],
)
def test_a02_fr_12_a_bad_csr_is_rejected_with_its_reason(text: str, kind: str, reason: str) -> None:
    """A02.FR.12 / TC_A_14 groundwork: foreign CN, wrong O, weak or wrong key -> Rejected."""
    with pytest.raises(CsrRejected, match=reason):
        check(text, kind)


def test_a_csr_whose_signature_does_not_verify_is_rejected() -> None:
    good = x509.load_pem_x509_csr(csr().encode())
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-2] ^= 0x01  # a bit of the signature flipped
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CsrRejected, match="signature does not verify"):
        check(forged.decode())


def test_v2g_csr_may_carry_the_secc_id_as_cn() -> None:
    assert check(csr(cn="SECC-1"), V2G).subject.rfc4514_string() == "O=Acme CPO,CN=SECC-1"


def station_ca() -> tuple[Signer, x509.Certificate]:
    root = issue("CSMS Root", None, ca=True, pathlen=1)
    sub = issue("CSMS Station CA", root, ca=True, pathlen=0)
    return Signer(sub.cert, sub.key), root.cert


def test_signed_certificate_chains_to_the_csms_root_and_keeps_the_csr_subject() -> None:
    """A02.FR.06 (what the station checks): the chain validates to its CSMS root."""
    signer, root = station_ca()
    request = check(csr())
    chain = sign_csr(
        request,
        signer,
        certificate_type=CHARGING_STATION,
        now=NOW,
        validity=dt.timedelta(days=30),
    )
    assert chain[1:] == [signer.certificate]
    leaf = chain[0]
    assert leaf.subject == request.subject
    assert leaf.public_key().public_numbers() == request.public_key().public_numbers()  # type: ignore[union-attr]
    assert leaf.not_valid_after_utc == NOW + dt.timedelta(days=30)
    valid = validate_chain(parse_chain(pem_chain(chain)), [root], NOW, STATION)
    assert valid.anchor == root


def test_signed_validity_ends_with_the_signer() -> None:
    signer, _ = station_ca()
    chain = sign_csr(
        check(csr()),
        signer,
        certificate_type=CHARGING_STATION,
        now=NOW,
        validity=dt.timedelta(days=3650),
    )
    assert chain[0].not_valid_after_utc == signer.certificate.not_valid_after_utc


@pytest.mark.parametrize(
    ("certificate", "token", "expected"),
    [
        ("Accepted", "Accepted", ("Accepted", "Accepted")),  # C07.FR.14
        ("Accepted", "ConcurrentTx", ("Accepted", "ConcurrentTx")),  # C07.FR.14 note
        ("Accepted", "Blocked", ("ContractCancelled", "Blocked")),  # C07.FR.13
        ("Accepted", "Unknown", ("ContractCancelled", "Unknown")),  # C07.FR.13
        ("CertificateExpired", "Accepted", ("CertificateExpired", "Expired")),  # C07.FR.15
        ("CertificateRevoked", "Accepted", ("CertificateRevoked", "Invalid")),  # C07.FR.16
        ("CertChainError", "Accepted", ("CertChainError", "Invalid")),  # C07.FR.17
        ("SignatureError", "Accepted", ("SignatureError", "Invalid")),  # C07.FR.17
        ("NoCertificateAvailable", "Accepted", ("NoCertificateAvailable", "Accepted")),
    ],
)
def test_c07_fr_13_to_17_answer(certificate: str, token: str, expected: tuple[str, str]) -> None:
    assert contract_answer(certificate, token) == expected


def test_hash_data_of_a_root_and_of_a_leaf_find_their_issuer() -> None:
    pki = make_iso_pki()
    root = hash_data(pki.v2g_root.cert)
    assert root.serial_number == format(pki.v2g_root.cert.serial_number, "X")
    data = request_data(pki.contract.cert, pki.mo_sub2.cert)
    assert hash_data(pki.contract.cert, pki.mo_sub2.cert).issuer_key_hash == data.issuer_key_hash
    cas = [pki.mo_root.cert, pki.mo_sub1.cert, pki.mo_sub2.cert]
    assert find_issuer(data, cas) == pki.mo_sub2.cert
    assert find_issuer(data, [pki.mo_root.cert, pki.v2g_root.cert]) is None


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"hashAlgorithm": "MD5"}, "hash algorithm 'MD5'"),
        (
            {"hashAlgorithm": "SHA256", "issuerNameHash": "zz", "issuerKeyHash": "00"},
            "issuerNameHash is not hexadecimal",
        ),
        ({"hashAlgorithm": "SHA256", "issuerNameHash": "00"}, "without issuerKeyHash"),
    ],
)
def test_malformed_hash_data_is_a_chain_error(entry: dict[str, str], reason: str) -> None:
    with pytest.raises(CertChainError, match=reason):
        request_data_list([entry])


def material_values() -> tuple[dict[str, str | None], object]:
    pki = make_iso_pki()
    signer, root = station_ca()
    values: dict[str, str | None] = {
        "v2g_root_ca": pem_chain([pki.v2g_root.cert]),
        "mo_root_ca": pem_chain([pki.mo_root.cert]),
        "mo_sub_ca": pem_chain([pki.mo_sub2.cert, pki.mo_sub1.cert]),
        "csms_root_ca": pem_chain([root]),
        "csms_ca_cert": pem_chain([signer.certificate, root]),
        "csms_ca_key": pem(signer.key),  # type: ignore[arg-type]
    }
    return values, pki


def test_material_from_pem_text_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    values, pki = material_values()
    path = tmp_path / "mo-root.pem"
    path.write_text(values["mo_root_ca"] or "")
    values["mo_root_ca"] = str(path)
    material = load_material(values)
    assert material.mo_roots == (pki.mo_root.cert,)  # type: ignore[attr-defined]
    assert len(material.mo_sub_cas) == 2
    assert material.station_signer is not None
    assert material.station_signer.chain == ()  # the root is not sent to stations
    assert pki.mo_sub2.cert in material.known_cas  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (
            {"mo_root_ca": "/no/such/file.pem"},
            "mo_root_ca",
            "cannot read '/no/such/file.pem': No such file or directory",
        ),
        (
            {"v2g_root_ca": "-----BEGIN CERTIFICATE-----\nxx"},
            "v2g_root_ca",
            "is not a PEM certificate (or a chain of them)",
        ),
        ({"csms_ca_key": None}, "csms_ca_key", "is required with csms_ca_cert"),
        (
            {"csms_ca_key": pem(ec.generate_private_key(ec.SECP256R1()))},
            "csms_ca_key",
            "the key does not match csms_ca_cert",
        ),
        (
            {"csms_ca_key": "-----BEGIN PRIVATE KEY-----\nxx"},
            "csms_ca_key",
            "is not an unencrypted PEM private key",
        ),
    ],
)
def test_a_bad_pem_setting_names_its_key(
    change: dict[str, str | None], key: str, reason: str
) -> None:
    values, _ = material_values()
    values.update(change)
    with pytest.raises(PkiMaterialError) as raised:
        load_material(values)
    assert (raised.value.key, raised.value.reason) == (f"certificates.{key}", reason)


def test_roots_must_be_self_signed() -> None:
    values, pki = material_values()
    values["mo_root_ca"] = pem_chain([pki.mo_sub1.cert])  # type: ignore[attr-defined]
    with pytest.raises(PkiMaterialError, match=r"certificates\.mo_root_ca: must hold root"):
        load_material(values)


def test_verdict_of_a_contract_chain_and_of_a_foreign_one() -> None:
    values, pki = material_values()
    material = load_material(values)
    good = verdict(pem_chain(pki.contract_chain), "contract", material, NOW)  # type: ignore[attr-defined]
    assert (good["valid"], good["status"], good["emaid"]) == (True, "Accepted", CONTRACT_EMAID)
    secc = verdict(pem_chain(pki.secc_chain), "contract", material, NOW)  # type: ignore[attr-defined]
    assert (secc["valid"], secc["status"]) == (False, "CertChainError")
    assert "does not chain to a trust anchor" in str(secc["reason"])
    late = verdict(
        pem_chain(pki.contract_chain), "contract", material, NOW + dt.timedelta(days=400)
    )  # type: ignore[attr-defined]
    assert late["status"] == "CertificateExpired"
    assert verdict("garbage", "station", PkiMaterial(), NOW)["status"] == "CertChainError"


def test_a_root_signer_is_not_sent_with_the_certificate() -> None:
    root = issue("CSMS Root", None, ca=True, pathlen=0)
    chain = sign_csr(
        check(csr()),
        Signer(root.cert, root.key),
        certificate_type=CHARGING_STATION,
        now=NOW,
        validity=dt.timedelta(days=1),
    )
    assert len(chain) == 1
    assert chain[0].issuer == root.cert.subject


def test_v2g20_csr_needs_a_p521_key() -> None:
    """OCPP 2.1 V2G20Certificate (ISO 15118-20): ECDSA P-521 only."""
    assert check(csr(cn="SECC-20", key=ec.generate_private_key(ec.SECP521R1())), V2G20)
    with pytest.raises(CsrRejected, match="curve secp256r1 is not allowed for V2G20Certificate"):
        check(csr(cn="SECC-20"), V2G20)
