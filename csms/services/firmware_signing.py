"""Signed firmware (OCPP 2.0.1 L01): the checks the CSMS makes before a station is bothered.

Pure: PEM, base64 and digests in, the signing certificate or a ``FirmwareSigningError`` out.

- ``check_signing_certificate``: the Firmware Signing certificate (L01.FR.11; the station
  checks it again, L01.FR.21) parsed, and validated against the configured firmware CA with
  ``csms.services.x509_chain`` (chain, validity at the instant, CA constraints, the leaf's
  keyUsage digitalSignature); an extendedKeyUsage, when the certificate has one, must allow
  code signing. Intermediates may follow the leaf in the same PEM.
- ``verify_image_signature``: the signature over the whole image (L01.FR.04) checked with the
  certificate's key, from the image's SHA-256 (the store keeps it, so a large image is never
  read again): RSA-PSS (any salt length) or ECDSA, SHA-256, base64 as OCPP carries it.

Every error names the body field it is about (``signingCertificate`` or ``signature``), a stable
``code`` and the exact reason (all three go to the 422).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID

from csms.services.x509_chain import STATION, CertificateError, validate_chain

__all__ = [
    "CERTIFICATE_FIELD",
    "SIGNATURE_FIELD",
    "FirmwareSigningError",
    "check_signing_certificate",
    "load_anchors",
    "parse_certificates",
    "verify_image_signature",
]

CERTIFICATE_FIELD = "signingCertificate"
SIGNATURE_FIELD = "signature"


class FirmwareSigningError(ValueError):
    """A signed update refused: ``field`` (signingCertificate / signature), ``code``, reason."""

    def __init__(self, field: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.code = code
        self.reason = reason


def parse_certificates(pem: str | bytes) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise FirmwareSigningError(
            CERTIFICATE_FIELD, "invalid_signing_certificate", "not a PEM certificate"
        ) from None
    return certificates


def load_anchors(pem: bytes) -> list[x509.Certificate]:
    """The firmware CA file's certificates (a wrong file is the operator's error: ValueError)."""
    return x509.load_pem_x509_certificates(pem)


def check_signing_certificate(
    pem: str, anchors: Sequence[x509.Certificate], at: datetime
) -> x509.Certificate:
    """The Firmware Signing certificate of ``pem`` (leaf first), valid at ``at`` and issued
    under one of ``anchors``, or the reason it is not."""
    if not anchors:
        raise FirmwareSigningError(
            CERTIFICATE_FIELD, "no_firmware_ca", "no firmware CA is configured (firmware.ca_path)"
        )
    chain = parse_certificates(pem)
    try:
        valid = validate_chain(chain, anchors, at, STATION)
    except CertificateError as error:
        raise FirmwareSigningError(
            CERTIFICATE_FIELD, "invalid_signing_certificate", str(error)
        ) from None
    try:
        usage = valid.leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return valid.leaf
    if ExtendedKeyUsageOID.CODE_SIGNING not in usage:
        raise FirmwareSigningError(
            CERTIFICATE_FIELD,
            "invalid_signing_certificate",
            "extendedKeyUsage does not allow code signing",
        )
    return valid.leaf


def _decode(signature: str) -> bytes:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise FirmwareSigningError(SIGNATURE_FIELD, "invalid_signature", "not base64") from None


def verify_image_signature(certificate: x509.Certificate, sha256: bytes, signature: str) -> None:
    """``signature`` (base64) over the image whose SHA-256 is ``sha256``, by ``certificate``."""
    raw = _decode(signature)
    key = certificate.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)
            key.verify(raw, sha256, pss, prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, sha256, ec.ECDSA(prehashed))
        else:
            raise FirmwareSigningError(
                SIGNATURE_FIELD, "invalid_signature", "the certificate's key is not RSA or ECDSA"
            )
    except InvalidSignature:
        raise FirmwareSigningError(
            SIGNATURE_FIELD,
            "invalid_signature",
            "the signature does not match the image (tampered, or signed by another key)",
        ) from None
