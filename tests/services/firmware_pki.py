"""A firmware signing PKI built in the tests: a firmware CA, an ECDSA and an RSA signer under
it, a signer under another CA, and the signatures OCPP carries (base64 over the image,
L01.FR.04)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .pki_builder import NOT_AFTER, NOT_BEFORE, Issued, issue


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


def rsa_signer(
    ca: Issued, *, code_signing: bool = True
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Signer RSA")])
    usage = [ExtendedKeyUsageOID.CODE_SIGNING if code_signing else ExtendedKeyUsageOID.SERVER_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(False, None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return cert, key


def sign_ec(key: ec.EllipticCurvePrivateKey, image: bytes) -> str:
    return base64.b64encode(key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()


def sign_rsa(key: rsa.RSAPrivateKey, image: bytes) -> str:
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    return base64.b64encode(key.sign(image, pss, hashes.SHA256())).decode()


@dataclass(frozen=True)
class FirmwarePki:
    ca: Issued
    signer: Issued
    foreign_ca: Issued
    foreign_signer: Issued

    @property
    def ca_pem(self) -> str:
        return pem(self.ca.cert)

    @property
    def signer_pem(self) -> str:
        return pem(self.signer.cert)

    def sign(self, image: bytes) -> str:
        return sign_ec(self.signer.key, image)


def make_firmware_pki() -> FirmwarePki:
    ca = issue("Firmware CA", None, ca=True, pathlen=1)
    # same name as the firmware CA, another key: only the signature tells them apart
    foreign = issue("Firmware CA", None, ca=True, pathlen=1)
    return FirmwarePki(ca, issue("Firmware Signer", ca), foreign, issue("Firmware Signer", foreign))
