"""X.509 chain validation: a valid ISO 15118 PKI, then one certificate broken per rejection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from csms.services.x509_chain import (
    ISO15118_2,
    ISO15118_20,
    STATION,
    CertChainError,
    CertificateError,
    CertificateExpired,
    CertificateRevoked,
    ContractCancelled,
    RevocationList,
    SignatureError,
    validate_chain,
    validate_contract,
)
from tests.services.pki_builder import CONTRACT_EMAID, NOT_AFTER, NOW, issue, make_iso_pki

PKI = make_iso_pki()
V2G = [PKI.v2g_root.cert]
MO = [PKI.mo_root.cert]


def test_valid_secc_chain_with_and_without_its_root() -> None:
    valid = validate_chain(PKI.secc_chain, V2G, NOW, ISO15118_2)
    assert valid.anchor == PKI.v2g_root.cert
    assert valid.leaf == PKI.secc.cert
    assert len(valid.certificates) == 4
    with_root = validate_chain([*PKI.secc_chain, PKI.v2g_root.cert], V2G, NOW, ISO15118_2)
    assert with_root.certificates == valid.certificates


def test_valid_contract_gives_its_emaid() -> None:
    valid = validate_contract(PKI.contract_chain, MO, NOW, emaid="DE-8AA-CA2B3C4D5")
    assert valid.emaid is not None
    assert str(valid.emaid) == CONTRACT_EMAID


def test_statuses_are_the_ocpp_values() -> None:
    assert [e.status for e in (CertChainError, CertificateExpired, CertificateRevoked)] == [
        "CertChainError",
        "CertificateExpired",
        "CertificateRevoked",
    ]
    assert (SignatureError.status, ContractCancelled.status) == (
        "SignatureError",
        "ContractCancelled",
    )


def test_expired_leaf() -> None:
    with pytest.raises(CertificateExpired, match="expired") as caught:
        validate_chain(PKI.secc_chain, V2G, NOT_AFTER + timedelta(seconds=1), ISO15118_2)
    assert caught.value.status == "CertificateExpired"


def test_sub_ca_not_yet_valid() -> None:
    sub2 = issue("CPO Sub-CA 2", PKI.cpo_sub1, ca=True, pathlen=0, not_before=NOW + timedelta(1))
    leaf = issue("SECC", sub2)
    with pytest.raises(CertificateExpired, match="not valid yet") as caught:
        validate_chain([leaf.cert, sub2.cert, PKI.cpo_sub1.cert], V2G, NOW, ISO15118_2)
    assert "CPO Sub-CA 2" in caught.value.subject


def test_expired_anchor() -> None:
    root = issue("Old Root", None, ca=True, not_after=NOW - timedelta(days=1))
    leaf = issue("SECC", root)
    with pytest.raises(CertificateExpired):
        validate_chain([leaf.cert], [root.cert], NOW)


def test_wrong_issuer() -> None:
    with pytest.raises(CertChainError, match="does not chain to a trust anchor"):
        validate_chain(PKI.secc_chain, MO, NOW, ISO15118_2)


def test_chain_out_of_order() -> None:
    with pytest.raises(CertChainError, match="issuer name does not match"):
        validate_chain([PKI.secc.cert, PKI.cpo_sub1.cert, PKI.cpo_sub2.cert], V2G, NOW)


def test_forged_signature() -> None:
    impostor = ec.generate_private_key(ec.SECP256R1())
    leaf = issue("SECC", PKI.cpo_sub2, signing_key=impostor)
    with pytest.raises(SignatureError, match="signature does not verify"):
        validate_chain([leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert], V2G, NOW)


def test_forged_root_with_the_anchor_name() -> None:
    fake_root = issue("V2G Root CA", None, ca=True)
    leaf = issue("SECC", fake_root)
    with pytest.raises(SignatureError):
        validate_chain([leaf.cert], V2G, NOW)


def test_root_sent_with_the_chain_must_be_an_anchor() -> None:
    other = make_iso_pki()
    with pytest.raises(CertChainError, match="root is not a trust anchor"):
        validate_chain([*other.secc_chain, other.v2g_root.cert], V2G, NOW)


def test_pathlen_violated() -> None:
    sub1 = issue("Sub-CA 1", PKI.v2g_root, ca=True, pathlen=0)
    sub2 = issue("Sub-CA 2", sub1, ca=True, pathlen=0)
    leaf = issue("SECC", sub2)
    with pytest.raises(CertChainError, match="pathlen 0 exceeded by 1"):
        validate_chain([leaf.cert, sub2.cert, sub1.cert], V2G, NOW, ISO15118_2)


def test_anchor_pathlen_violated() -> None:
    root = issue("Tight Root", None, ca=True, pathlen=0)
    sub = issue("Sub", root, ca=True)
    leaf = issue("SECC", sub)
    with pytest.raises(CertChainError, match="pathlen 0"):
        validate_chain([leaf.cert, sub.cert], [root.cert], NOW)


def test_too_long() -> None:
    sub1 = issue("Sub-CA 1", PKI.v2g_root, ca=True)
    sub2 = issue("Sub-CA 2", sub1, ca=True)
    sub3 = issue("Sub-CA 3", sub2, ca=True)
    leaf = issue("SECC", sub3)
    with pytest.raises(CertChainError, match="4 certificates below the root"):
        validate_chain([leaf.cert, sub3.cert, sub2.cert, sub1.cert], V2G, NOW, STATION)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"basic_constraints": False}, "CA without a critical basicConstraints"),
        ({"critical": False}, "CA without a critical basicConstraints"),
        ({"key_usage": False}, "CA keyUsage lacks keyCertSign"),
    ],
)
def test_sub_ca_extensions(kwargs: dict[str, bool], reason: str) -> None:
    sub2 = issue("CPO Sub-CA 2", PKI.cpo_sub1, ca=True, pathlen=0, **kwargs)
    leaf = issue("SECC", sub2)
    with pytest.raises(CertChainError, match=reason):
        validate_chain([leaf.cert, sub2.cert, PKI.cpo_sub1.cert], V2G, NOW, ISO15118_2)


def test_issuer_that_is_not_a_ca() -> None:
    not_ca = issue("Not a CA", PKI.cpo_sub1)
    leaf = issue("SECC", not_ca)
    with pytest.raises(CertChainError, match="issuer is not a CA"):
        validate_chain([leaf.cert, not_ca.cert, PKI.cpo_sub1.cert], V2G, NOW)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"key_usage": False}, "leaf keyUsage lacks digitalSignature"),
        ({"ca": True}, "leaf is a CA"),
        ({"basic_constraints": False}, "leaf without a critical basicConstraints"),
        ({"critical": False}, "leaf without a critical basicConstraints"),
    ],
)
def test_leaf_extensions(kwargs: dict[str, bool], reason: str) -> None:
    leaf = issue("SECC", PKI.cpo_sub2, **kwargs)
    with pytest.raises(CertChainError, match=reason):
        validate_chain([leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert], V2G, NOW, ISO15118_2)


def test_station_profile_does_not_need_leaf_basic_constraints() -> None:
    leaf = issue("CS001", PKI.cpo_sub2, basic_constraints=False)
    chain = [leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert]
    assert validate_chain(chain, V2G, NOW, STATION).leaf == leaf.cert


def test_der_over_800_bytes() -> None:
    leaf = issue("SECC", PKI.cpo_sub2, padding_names=30)
    chain = [leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert]
    with pytest.raises(CertChainError, match=r"bytes DER, ISO 15118-2 allows 800"):
        validate_chain(chain, V2G, NOW, ISO15118_2)
    assert validate_chain(chain, V2G, NOW, STATION).leaf == leaf.cert


def test_wrong_curve_for_15118_2() -> None:
    leaf = issue("SECC", PKI.cpo_sub2, curve=ec.SECP384R1())
    with pytest.raises(CertChainError, match="curve ISO 15118-2 requires"):
        validate_chain([leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert], V2G, NOW, ISO15118_2)


def test_wrong_hash_for_15118_2() -> None:
    leaf = issue("SECC", PKI.cpo_sub2, digest=hashes.SHA384())
    with pytest.raises(CertChainError, match="hash is not the one ISO 15118-2 requires"):
        validate_chain([leaf.cert, PKI.cpo_sub2.cert, PKI.cpo_sub1.cert], V2G, NOW, ISO15118_2)


def test_15118_20_wants_p521_with_sha512() -> None:
    pki20 = make_iso_pki(ec.SECP521R1(), hashes.SHA512())
    valid = validate_contract(pki20.contract_chain, [pki20.mo_root.cert], NOW, ISO15118_20)
    assert valid.anchor == pki20.mo_root.cert
    with pytest.raises(CertChainError, match="curve ISO 15118-20 requires"):
        validate_chain(PKI.secc_chain, V2G, NOW, ISO15118_20)
    with pytest.raises(CertChainError, match="curve ISO 15118-2 requires"):
        validate_chain(pki20.secc_chain, [pki20.v2g_root.cert], NOW, ISO15118_2)


def test_revoked_on_the_local_list() -> None:
    revocations = RevocationList.of(revoked=[PKI.cpo_sub2.cert])
    with pytest.raises(CertificateRevoked, match="local revocation list") as caught:
        validate_chain(PKI.secc_chain, V2G, NOW, ISO15118_2, revocations)
    assert "CPO Sub-CA 2" in caught.value.subject
    other = RevocationList.of(revoked=[make_iso_pki().cpo_sub2.cert])
    assert validate_chain(PKI.secc_chain, V2G, NOW, ISO15118_2, other).anchor == PKI.v2g_root.cert


def test_contract_cancelled() -> None:
    revocations = RevocationList.of(cancelled=["DE-8AA-CA2B3C4D5"])
    with pytest.raises(ContractCancelled, match="DE8AACA2B3C4D5L is cancelled"):
        validate_contract(PKI.contract_chain, MO, NOW, revocations=revocations)


def test_contract_cn_must_be_the_emaid() -> None:
    with pytest.raises(CertChainError, match="is not the EMAID NLTNM012345678W"):
        validate_contract(PKI.contract_chain, MO, NOW, emaid="NL-TNM-012345678-W")
    with pytest.raises(CertChainError, match="presented EMAID invalid"):
        validate_contract(PKI.contract_chain, MO, NOW, emaid="not an emaid")


@pytest.mark.parametrize(
    ("cn", "reason"), [("SECC", "not an EMAID"), ("DE8AACA2B3C4D5M", "expected L")]
)
def test_contract_cn_not_a_valid_emaid(cn: str, reason: str) -> None:
    pki = make_iso_pki(contract_cn=cn)
    with pytest.raises(CertChainError, match=f"contract CN is not an EMAID.*{reason}"):
        validate_contract(pki.contract_chain, [pki.mo_root.cert], NOW)


def test_every_rejection_is_a_certificate_error() -> None:
    for kind in (CertChainError, CertificateExpired, CertificateRevoked, SignatureError):
        assert issubclass(kind, CertificateError)
    assert issubclass(ContractCancelled, CertificateError)


def test_empty_and_self_signed_below_the_root() -> None:
    with pytest.raises(CertChainError, match="empty chain"):
        validate_chain([], V2G, NOW)
    with pytest.raises(CertChainError, match="self-signed certificate below the root"):
        validate_chain([PKI.mo_root.cert, PKI.v2g_root.cert], V2G, NOW)
