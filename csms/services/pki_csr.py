"""Certificate signing requests (A02/A03): the checks a CSR must pass, and signing it.

Pure: a PEM CSR in, the parsed request or ``CsrRejected`` with the exact reason out; a signer
and an instant in, the new certificate chain out. The checks are those the CSMS can make before
a CA does (A02 error handling): the CSR's own signature (proof that the station holds the
key), the key (EC P-256/P-384/P-521, or RSA of at least 2048 bits; ISO 15118 V2G keys are EC
P-256 or P-521), the common name (the station id for a ChargingStationCertificate, A00.FR.403)
and the organisation (the configured OrganizationName, A00.FR.404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.services.pki_material import Signer

__all__ = [
    "CHARGING_STATION",
    "V2G",
    "V2G20",
    "CertificateHashData",
    "CsrRejected",
    "check_csr",
    "hash_data",
    "issuer_hashes",
    "pem_chain",
    "sign_csr",
    "stored_columns",
]

CHARGING_STATION = "ChargingStationCertificate"
V2G = "V2GCertificate"
#: OCPP 2.1: an ISO 15118-20 SECC certificate (ECDSA P-521).
V2G20 = "V2G20Certificate"
_STATION_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_V2G_CURVES = (ec.SECP256R1, ec.SECP521R1)
_CURVES = {V2G: _V2G_CURVES, V2G20: (ec.SECP521R1,)}
_MIN_RSA_BITS = 2048
# Clocks drift: a certificate valid from a few minutes ago is usable by a station a little
# behind the CSMS at once (A02.FR.08 switches as soon as notBefore has passed).
_BACKDATE = dt.timedelta(minutes=5)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


class CsrRejected(ValueError):
    """The CSR is refused (SignCertificate answered Rejected); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _check_key(csr: x509.CertificateSigningRequest, certificate_type: str) -> None:
    try:
        key = csr.public_key()
    except ValueError:
        raise CsrRejected("CSR public key cannot be read") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        curves = _CURVES.get(certificate_type, _STATION_CURVES)
        if not isinstance(key.curve, curves):
            raise CsrRejected(
                f"CSR key curve {key.curve.name} is not allowed for {certificate_type}"
            )
        return
    if isinstance(key, rsa.RSAPublicKey) and certificate_type == CHARGING_STATION:
        if key.key_size < _MIN_RSA_BITS:
            raise CsrRejected(f"CSR RSA key of {key.key_size} bits, at least {_MIN_RSA_BITS}")
        return
    raise CsrRejected(f"CSR key type is not allowed for {certificate_type}")


def check_csr(
    pem: str,
    *,
    certificate_type: str,
    station_id: str,
    organisation: str | None,
) -> x509.CertificateSigningRequest:
    """The CSR of ``pem`` if a station ``station_id`` may have it signed, else ``CsrRejected``."""
    if certificate_type not in (CHARGING_STATION, V2G, V2G20):
        raise CsrRejected(f"certificate type {certificate_type!r} cannot be signed")
    try:
        csr = x509.load_pem_x509_csr(pem.strip().encode())
    except ValueError:
        raise CsrRejected("CSR is not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise CsrRejected("CSR signature does not verify")
    _check_key(csr, certificate_type)
    common_name = _attribute(csr.subject, NameOID.COMMON_NAME)
    if not common_name:
        raise CsrRejected("CSR has no common name")
    if certificate_type == CHARGING_STATION and common_name != station_id:
        raise CsrRejected(f"CSR common name {common_name!r} is not the station id")
    if organisation is not None:
        found = _attribute(csr.subject, NameOID.ORGANIZATION_NAME)
        if found != organisation:
            raise CsrRejected(f"CSR organisation {found!r} is not {organisation!r}")
    return csr


def sign_csr(
    csr: x509.CertificateSigningRequest,
    signer: Signer,
    *,
    certificate_type: str,
    now: dt.datetime,
    validity: dt.timedelta,
) -> list[x509.Certificate]:
    """The certificate for ``csr`` signed by ``signer``, then the signer's chain (leaf first,
    without the root, also when the signer is the root): what CertificateSigned carries. Its
    validity ends with the signer's."""
    not_after = min(now + validity, signer.certificate.not_valid_after_utc)
    if not_after <= now:
        raise CsrRejected("the signing CA has expired")
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if certificate_type in (V2G, V2G20):  # the SECC is the TLS server of the EV
        usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    issuer_key = signer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(signer.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    digest: hashes.SHA256 | hashes.SHA512 = hashes.SHA256()
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and isinstance(
        issuer_key.curve, ec.SECP521R1
    ):
        digest = hashes.SHA512()  # ISO 15118-20
    leaf = builder.sign(issuer_key, digest)
    above = [signer.certificate, *signer.chain]
    # the root is the station's trust anchor already (installed with M05), never sent
    return [leaf, *(c for c in above if c.subject != c.issuer)]


def pem_chain(certificates: Sequence[x509.Certificate]) -> str:
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


@dataclass(frozen=True, slots=True)
class CertificateHashData:
    """OCPP CertificateHashDataType (hexadecimal, upper case; the serial without leading 0s)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def to_wire(self) -> dict[str, str]:
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
        }


def _key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's content (what an OCSP issuerKeyHash hashes)."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    raise ValueError("unsupported issuer key type")


def issuer_hashes(issuer: x509.Certificate, hash_algorithm: str) -> tuple[str, str]:
    """(issuerNameHash, issuerKeyHash) of the certificates ``issuer`` signs (upper-case hex)."""
    name = hashes.Hash(_HASHES[hash_algorithm]())
    name.update(issuer.subject.public_bytes())
    key = hashes.Hash(_HASHES[hash_algorithm]())
    key.update(_key_bits(issuer))
    return name.finalize().hex().upper(), key.finalize().hex().upper()


def hash_data(
    certificate: x509.Certificate,
    issuer: x509.Certificate | None = None,
    hash_algorithm: str = "SHA256",
) -> CertificateHashData:
    """The hash data of ``certificate`` issued by ``issuer`` (itself for a root): the hash of
    the issuer's name and of its public key, as in an OCSP request."""
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer or certificate, _HASHES[hash_algorithm]())
        .build()
    )
    return CertificateHashData(
        hash_algorithm,
        request.issuer_name_hash.hex().upper(),
        request.issuer_key_hash.hex().upper(),
        format(request.serial_number, "X"),
    )


def stored_columns(
    certificate: x509.Certificate,
    issuer: x509.Certificate | None = None,
    chain: Sequence[x509.Certificate] | None = None,
) -> dict[str, object]:
    """The ``iso15118_certificates`` columns a certificate gives (its hash data with
    ``issuer``, itself for a root; the PEM of ``chain``, or of the certificate alone)."""
    hashed = hash_data(certificate, issuer)
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial_number": hashed.serial_number,
        "hash_algorithm": hashed.hash_algorithm,
        "issuer_name_hash": hashed.issuer_name_hash,
        "issuer_key_hash": hashed.issuer_key_hash,
        "certificate_pem": pem_chain(chain or [certificate]),
        "valid_from": certificate.not_valid_before_utc,
        "valid_to": certificate.not_valid_after_utc,
    }
