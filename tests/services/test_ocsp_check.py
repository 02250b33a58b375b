"""OCSP: request data and DER requests, response checks, the cache, vouched responder URLs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from csms.services.ocsp_check import (
    OcspCache,
    OcspResponseError,
    OcspStatus,
    UntrustedResponder,
    build_request,
    chain_responder_urls,
    check_responder_url,
    check_response,
    ensure_good,
    request_data,
    responder_urls,
    vouched_responder_urls,
)
from csms.services.x509_chain import (
    CertificateError,
    CertificateRevoked,
    SignatureError,
    validate_contract,
)
from tests.services.pki_builder import NOW, issue, make_iso_pki, ocsp_response

PKI = make_iso_pki()
LEAF, ISSUER = PKI.contract.cert, PKI.mo_sub2.cert
DATA = request_data(LEAF, ISSUER)


def test_request_data_and_der_request_name_the_certificate() -> None:
    assert DATA.hash_algorithm == "SHA256"
    assert int(DATA.serial_number, 16) == LEAF.serial_number
    assert DATA.responder_url == "http://ocsp.mo.test/"
    request = ocsp.load_der_ocsp_request(build_request(DATA))
    assert request.serial_number == LEAF.serial_number
    assert request.issuer_name_hash.hex().upper() == DATA.issuer_name_hash
    assert request.issuer_key_hash.hex().upper() == DATA.issuer_key_hash
    assert request_data(PKI.secc.cert, PKI.cpo_sub2.cert).responder_url == ""


def test_bad_request_data() -> None:
    with pytest.raises(OcspResponseError, match="not hexadecimal"):
        build_request(replace(DATA, serial_number="xyz"))
    with pytest.raises(OcspResponseError, match="unsupported hash algorithm"):
        build_request(replace(DATA, hash_algorithm="MD5"))


def test_good_signed_by_the_issuer() -> None:
    der = ocsp_response(LEAF, ISSUER, PKI.mo_sub2)
    result = check_response(der, DATA, ISSUER, NOW)
    assert result.status is OcspStatus.GOOD
    assert result.next_update == NOW + timedelta(hours=1)
    assert result.response_der == der
    ensure_good(result)


def test_revoked() -> None:
    der = ocsp_response(LEAF, ISSUER, PKI.mo_sub2, status=ocsp.OCSPCertStatus.REVOKED)
    result = check_response(der, DATA, ISSUER, NOW)
    assert result.status is OcspStatus.REVOKED
    assert result.revocation_time == NOW - timedelta(days=1)
    with pytest.raises(CertificateRevoked, match="revoked according to OCSP"):
        ensure_good(result)


def test_unknown() -> None:
    der = ocsp_response(LEAF, ISSUER, PKI.mo_sub2, status=ocsp.OCSPCertStatus.UNKNOWN)
    with pytest.raises(CertificateError, match="unknown to the OCSP responder"):
        ensure_good(check_response(der, DATA, ISSUER, NOW))


def test_delegated_responder_certified_by_the_issuer() -> None:
    responder = issue("MO OCSP", PKI.mo_sub2, ocsp_signing=True)
    der = ocsp_response(LEAF, ISSUER, responder, include_responder=True)
    assert check_response(der, DATA, ISSUER, NOW).status is OcspStatus.GOOD


def test_delegated_responder_of_another_ca() -> None:
    responder = issue("Rogue OCSP", PKI.cpo_sub2, ocsp_signing=True)
    der = ocsp_response(LEAF, ISSUER, responder, include_responder=True)
    with pytest.raises(SignatureError, match="not certified by the issuer"):
        check_response(der, DATA, ISSUER, NOW)


def test_delegated_responder_without_ocsp_signing() -> None:
    responder = issue("MO OCSP", PKI.mo_sub2)
    der = ocsp_response(LEAF, ISSUER, responder, include_responder=True)
    with pytest.raises(SignatureError, match="lacks OCSPSigning"):
        check_response(der, DATA, ISSUER, NOW)


def test_delegated_responder_expired() -> None:
    responder = issue("MO OCSP", PKI.mo_sub2, ocsp_signing=True, not_after=NOW - timedelta(1))
    der = ocsp_response(LEAF, ISSUER, responder, include_responder=True)
    with pytest.raises(OcspResponseError, match="responder certificate not valid now"):
        check_response(der, DATA, ISSUER, NOW)


def test_signed_by_a_stranger() -> None:
    der = ocsp_response(LEAF, ISSUER, PKI.cpo_sub2)
    with pytest.raises(SignatureError, match="neither the issuer nor a delegate"):
        check_response(der, DATA, ISSUER, NOW)


def test_signature_does_not_verify() -> None:
    der = bytearray(ocsp_response(LEAF, ISSUER, PKI.mo_sub2))
    # The last bytes are the ECDSA signature's s value: flipping one leaves it parseable.
    der[-3] ^= 0x01
    with pytest.raises(SignatureError, match="does not verify"):
        check_response(bytes(der), DATA, ISSUER, NOW)


def test_stale_and_future_responses() -> None:
    stale = ocsp_response(LEAF, ISSUER, PKI.mo_sub2, next_update=NOW - timedelta(seconds=1))
    with pytest.raises(OcspResponseError, match="stale"):
        check_response(stale, DATA, ISSUER, NOW)
    future = ocsp_response(LEAF, ISSUER, PKI.mo_sub2, this_update=NOW + timedelta(hours=1))
    with pytest.raises(OcspResponseError, match="thisUpdate is in the future"):
        check_response(future, DATA, ISSUER, NOW)


def test_about_another_certificate() -> None:
    der = ocsp_response(PKI.mo_sub2.cert, PKI.mo_sub1.cert, PKI.mo_sub1)
    with pytest.raises(OcspResponseError, match="not about this certificate"):
        check_response(der, DATA, PKI.mo_sub1.cert, NOW)


def test_unsuccessful_and_malformed() -> None:
    refused = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    with pytest.raises(OcspResponseError, match="UNAUTHORIZED"):
        check_response(refused.public_bytes(Encoding.DER), DATA, ISSUER, NOW)
    with pytest.raises(OcspResponseError, match="malformed"):
        check_response(b"not der", DATA, ISSUER, NOW)


def test_cache_keeps_a_result_until_next_update() -> None:
    cache = OcspCache()
    result = check_response(ocsp_response(LEAF, ISSUER, PKI.mo_sub2), DATA, ISSUER, NOW)
    cache.put(DATA, result)
    same = replace(DATA, serial_number="0" + DATA.serial_number.lower(), responder_url="")
    assert cache.get(same, NOW + timedelta(minutes=59)) == result
    assert cache.get(DATA, NOW + timedelta(hours=1, seconds=1)) is None
    assert len(cache) == 0


def test_cache_without_next_update_and_bound() -> None:
    cache = OcspCache(max_entries=1)
    der = ocsp_response(LEAF, ISSUER, PKI.mo_sub2, next_update=None)
    cache.put(DATA, check_response(der, DATA, ISSUER, NOW))
    assert len(cache) == 0
    other = request_data(PKI.mo_sub2.cert, PKI.mo_sub1.cert)
    cache.put(DATA, check_response(ocsp_response(LEAF, ISSUER, PKI.mo_sub2), DATA, ISSUER, NOW))
    sub = ocsp_response(PKI.mo_sub2.cert, PKI.mo_sub1.cert, PKI.mo_sub1)
    cache.put(other, check_response(sub, other, PKI.mo_sub1.cert, NOW))
    assert cache.get(DATA, NOW) is None
    assert cache.get(other, NOW) is not None


def test_responder_urls_vouched_by_the_anchors() -> None:
    """GetCertificateStatus: only URLs from certificates chained to a trust anchor (no SSRF)."""
    root = issue("MO Root CA", None, ca=True, ocsp_url="http://root-ocsp.mo.test/")
    sub = issue("MO Sub-CA", root, ca=True, ocsp_url="http://sub-ocsp.mo.test/")
    stranger = make_iso_pki()
    foreign_sub = issue("Foreign Sub-CA", stranger.mo_root, ca=True, ocsp_url="http://evil.test/")
    vouched = vouched_responder_urls([root.cert], [[sub.cert], [foreign_sub.cert]], NOW)
    assert vouched == {"http://root-ocsp.mo.test/", "http://sub-ocsp.mo.test/"}
    assert check_responder_url("http://sub-ocsp.mo.test/", vouched) == "http://sub-ocsp.mo.test/"
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://evil.test/",
        "HTTP://sub-ocsp.mo.test/",
    ):
        with pytest.raises(UntrustedResponder, match="not vouched for"):
            check_responder_url(url, vouched)
    assert responder_urls(PKI.secc.cert) == ()


def test_contract_chain_vouches_for_its_leaf_responder() -> None:
    valid = validate_contract(PKI.contract_chain, [PKI.mo_root.cert], NOW)
    assert chain_responder_urls(valid) == {"http://ocsp.mo.test/"}
