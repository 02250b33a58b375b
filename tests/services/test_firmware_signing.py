"""Signed firmware checks before UpdateFirmware is sent (L01.FR.04, L01.FR.11, L01.FR.12)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from csms.services.firmware_signing import (
    FirmwareSigningError,
    check_signing_certificate,
    verify_image_signature,
)

from .firmware_pki import make_firmware_pki, pem, rsa_signer, sign_rsa
from .pki_builder import NOT_AFTER, NOW, issue

IMAGE = b"firmware image 2.0" * 1000
PKI = make_firmware_pki()


def refused(call, *args) -> FirmwareSigningError:  # type: ignore[no-untyped-def]
    with pytest.raises(FirmwareSigningError) as caught:
        call(*args)
    return caught.value


def test_an_ecdsa_signed_image_under_the_firmware_ca_passes():
    """L01.FR.11 / L01.FR.04: the certificate chains to the firmware CA, the signature is over
    the whole image with SHA-256."""
    cert = check_signing_certificate(PKI.signer_pem, [PKI.ca.cert], NOW)
    verify_image_signature(cert, hashlib.sha256(IMAGE).digest(), PKI.sign(IMAGE))


def test_an_rsa_pss_signed_image_passes():
    cert, key = rsa_signer(PKI.ca)
    checked = check_signing_certificate(pem(cert), [PKI.ca.cert], NOW)
    verify_image_signature(checked, hashlib.sha256(IMAGE).digest(), sign_rsa(key, IMAGE))


def test_a_tampered_image_is_refused_naming_the_signature():
    cert = check_signing_certificate(PKI.signer_pem, [PKI.ca.cert], NOW)
    error = refused(
        verify_image_signature, cert, hashlib.sha256(IMAGE + b"!").digest(), PKI.sign(IMAGE)
    )
    assert (error.field, error.code) == ("signature", "invalid_signature")
    assert "does not match the image" in error.reason


def test_a_signature_that_is_not_base64_is_refused():
    cert = check_signing_certificate(PKI.signer_pem, [PKI.ca.cert], NOW)
    error = refused(verify_image_signature, cert, hashlib.sha256(IMAGE).digest(), "no base64!")
    assert error.reason == "not base64"


def test_a_certificate_of_another_ca_is_refused():
    error = refused(check_signing_certificate, pem(PKI.foreign_signer.cert), [PKI.ca.cert], NOW)
    assert (error.field, error.code) == ("signingCertificate", "invalid_signing_certificate")
    assert "signature does not verify" in error.reason  # same issuer name, another key


def test_a_certificate_under_an_unknown_issuer_name_is_refused():
    other = issue("Unknown CA", None, ca=True)
    error = refused(check_signing_certificate, pem(issue("Signer", other).cert), [PKI.ca.cert], NOW)
    assert "does not chain to a trust anchor" in error.reason


def test_an_expired_certificate_is_refused():
    error = refused(
        check_signing_certificate, PKI.signer_pem, [PKI.ca.cert], NOT_AFTER + timedelta(days=1)
    )
    assert "expired" in error.reason


def test_a_certificate_without_digital_signature_usage_is_refused():
    bare = issue("Signer", PKI.ca, key_usage=False)
    error = refused(check_signing_certificate, pem(bare.cert), [PKI.ca.cert], NOW)
    assert "digitalSignature" in error.reason


def test_an_extended_key_usage_without_code_signing_is_refused():
    cert, _ = rsa_signer(PKI.ca, code_signing=False)
    error = refused(check_signing_certificate, pem(cert), [PKI.ca.cert], NOW)
    assert "code signing" in error.reason


def test_a_signer_under_an_intermediate_passes_with_the_chain():
    sub = issue("Firmware Sub-CA", PKI.ca, ca=True, pathlen=0)
    leaf = issue("Signer", sub)
    check_signing_certificate(pem(leaf.cert, sub.cert), [PKI.ca.cert], NOW)


def test_not_pem_and_no_ca_are_refused():
    assert refused(check_signing_certificate, "garbage", [PKI.ca.cert], NOW).reason == (
        "not a PEM certificate"
    )
    assert refused(check_signing_certificate, PKI.signer_pem, [], NOW).code == "no_firmware_ca"
