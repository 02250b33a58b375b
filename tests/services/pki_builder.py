"""A test PKI built with ``cryptography``: ISO 15118 style roots, sub-CAs, leaves, OCSP answers.

Every knob a rejection test needs is a keyword of ``issue``; the defaults make a certificate
the ISO 15118-2 profile accepts (ECDSA P-256, SHA-256, critical basicConstraints, keyUsage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2027, 1, 1, tzinfo=UTC)
CONTRACT_EMAID = "DE8AACA2B3C4D5L"


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def issue(
    cn: str,
    issuer: Issued | None,
    *,
    ca: bool = False,
    pathlen: int | None = None,
    curve: ec.EllipticCurve | None = None,
    digest: hashes.HashAlgorithm | None = None,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    basic_constraints: bool = True,
    critical: bool = True,
    key_usage: bool = True,
    ocsp_url: str | None = None,
    ocsp_signing: bool = False,
    padding_names: int = 0,
    issuer_name: x509.Name | None = None,
    signing_key: ec.EllipticCurvePrivateKey | None = None,
) -> Issued:
    """A certificate for ``cn``, signed by ``issuer`` (self-signed when None)."""
    key = ec.generate_private_key(curve or ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = signing_key or (issuer.key if issuer else key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or (issuer.cert.subject if issuer else subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca, pathlen), critical=critical)
    if key_usage:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), False)
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    if padding_names:  # inflates the DER past the ISO 15118-2 limit of 800 bytes
        names = [x509.DNSName(f"padding-{i}.example.org") for i in range(padding_names)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(signer, digest or hashes.SHA256())
    return Issued(cert, key)


@dataclass(frozen=True)
class IsoPki:
    """V2G root -> CPO sub-CA 1 (pathlen 1) -> sub-CA 2 (pathlen 0) -> SECC leaf, and
    MO root -> MO sub-CA 1 -> MO sub-CA 2 -> contract leaf (CN = a valid EMAID)."""

    v2g_root: Issued
    cpo_sub1: Issued
    cpo_sub2: Issued
    secc: Issued
    mo_root: Issued
    mo_sub1: Issued
    mo_sub2: Issued
    contract: Issued

    @property
    def secc_chain(self) -> list[x509.Certificate]:
        return [self.secc.cert, self.cpo_sub2.cert, self.cpo_sub1.cert]

    @property
    def contract_chain(self) -> list[x509.Certificate]:
        return [self.contract.cert, self.mo_sub2.cert, self.mo_sub1.cert]


def make_iso_pki(
    curve: ec.EllipticCurve | None = None,
    digest: hashes.HashAlgorithm | None = None,
    contract_cn: str = CONTRACT_EMAID,
) -> IsoPki:
    def ca(cn: str, issuer: Issued | None, pathlen: int | None) -> Issued:
        return issue(cn, issuer, ca=True, pathlen=pathlen, curve=curve, digest=digest)

    v2g_root = ca("V2G Root CA", None, 2)
    cpo_sub1 = ca("CPO Sub-CA 1", v2g_root, 1)
    cpo_sub2 = ca("CPO Sub-CA 2", cpo_sub1, 0)
    mo_root = ca("MO Root CA", None, 2)
    mo_sub1 = ca("MO Sub-CA 1", mo_root, 1)
    mo_sub2 = ca("MO Sub-CA 2", mo_sub1, 0)
    return IsoPki(
        v2g_root,
        cpo_sub1,
        cpo_sub2,
        issue("SECC", cpo_sub2, curve=curve, digest=digest),
        mo_root,
        mo_sub1,
        mo_sub2,
        issue(contract_cn, mo_sub2, curve=curve, digest=digest, ocsp_url="http://ocsp.mo.test/"),
    )


def ocsp_response(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    responder: Issued,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime | None = NOW + timedelta(hours=1),
    include_responder: bool = False,
) -> bytes:
    """A DER OCSP response about ``cert``, signed by ``responder``."""
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=issuer,
        algorithm=hashes.SHA256(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=NOW - timedelta(days=1) if status == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
    if include_responder:
        builder = builder.certificates([responder.cert])
    return builder.sign(responder.key, hashes.SHA256()).public_bytes(Encoding.DER)
