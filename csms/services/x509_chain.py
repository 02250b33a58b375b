"""X.509 chain validation against configured trust anchors, and the reasons it fails.

Pure: certificates and an instant in, a ``ValidChain`` or a ``CertificateError`` out. Every
error's ``status`` is the OCPP ``AuthorizeCertificateStatusEnumType`` value a station would be
answered with, and ``reason`` says exactly what was wrong (logged, never sent).

What is checked, leaf first, up to an anchor (the chain may or may not include the root):
each certificate valid at the instant; each signed by the next (``SignatureError``) whose
subject is its issuer (``CertChainError``); every CA (sub-CAs and the anchor) with a critical
basicConstraints ``ca=True`` whose pathlen allows the CAs below it, and keyUsage keyCertSign;
the leaf not a CA and with keyUsage digitalSignature; at most ``max_non_self_signed``
certificates below the anchor; and, per profile, the DER size and the key and signature
algorithms (ISO 15118-2: ECDSA P-256 with SHA-256, at most 800 bytes; ISO 15118-20: ECDSA
P-521 with SHA-512). A contract leaf's CN must be the EMAID (``validate_contract``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.services.emaid import Emaid, EmaidError, parse_emaid

__all__ = [
    "ISO15118_2",
    "ISO15118_20",
    "STATION",
    "CertChainError",
    "CertificateError",
    "CertificateExpired",
    "CertificateRevoked",
    "ChainPolicy",
    "ContractCancelled",
    "RevocationList",
    "SignatureError",
    "ValidChain",
    "common_name",
    "validate_chain",
    "validate_contract",
]


_E = TypeVar("_E", bound=x509.ExtensionType)


class CertificateError(Exception):
    """A rejected certificate: ``status`` is the OCPP status, ``reason`` the exact cause."""

    status = "CertChainError"

    def __init__(self, reason: str, subject: str = "") -> None:
        super().__init__(f"{reason} ({subject})" if subject else reason)
        self.reason = reason
        self.subject = subject


class CertChainError(CertificateError):
    status = "CertChainError"


class CertificateExpired(CertificateError):
    status = "CertificateExpired"


class CertificateRevoked(CertificateError):
    status = "CertificateRevoked"


class SignatureError(CertificateError):
    status = "SignatureError"


class ContractCancelled(CertificateError):
    status = "ContractCancelled"


@dataclass(frozen=True, slots=True)
class ChainPolicy:
    """What a profile demands beyond the common checks; ``curve``/``hash`` None allow any."""

    name: str
    max_non_self_signed: int
    max_der_bytes: int | None = None
    curve: type[ec.EllipticCurve] | None = None
    hash: type[hashes.HashAlgorithm] | None = None
    # ISO 15118 leaves carry a critical basicConstraints too; station certificates need not.
    leaf_basic_constraints: bool = False


ISO15118_2 = ChainPolicy("ISO 15118-2", 3, 800, ec.SECP256R1, hashes.SHA256, True)
ISO15118_20 = ChainPolicy("ISO 15118-20", 3, None, ec.SECP521R1, hashes.SHA512, True)
STATION = ChainPolicy("station", 3)


@dataclass(frozen=True, slots=True)
class RevocationList:
    """The local list: revoked certificates by (issuer, serial) and cancelled contracts."""

    revoked: frozenset[tuple[bytes, int]] = frozenset()
    cancelled_emaids: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, revoked: Sequence[x509.Certificate] = (), cancelled: Sequence[str] = ()
    ) -> RevocationList:
        return cls(
            frozenset((c.issuer.public_bytes(), c.serial_number) for c in revoked),
            frozenset(parse_emaid(e).body for e in cancelled),
        )

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        return (certificate.issuer.public_bytes(), certificate.serial_number) in self.revoked


@dataclass(frozen=True, slots=True)
class ValidChain:
    """A validated chain: leaf first, ending with the anchor it chains to."""

    certificates: tuple[x509.Certificate, ...]
    anchor: x509.Certificate
    emaid: Emaid | None = field(default=None)

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]


def common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _self_signed(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    if at < certificate.not_valid_before_utc:
        raise CertificateExpired("not valid yet", _subject(certificate))
    if at > certificate.not_valid_after_utc:
        raise CertificateExpired("expired", _subject(certificate))


def _check_signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(issuer)
    except ValueError:
        raise CertChainError("issuer name does not match", _subject(certificate)) from None
    except InvalidSignature:
        raise SignatureError("signature does not verify", _subject(certificate)) from None
    except TypeError:
        raise SignatureError("unsupported signature algorithm", _subject(certificate)) from None


def _extension(certificate: x509.Certificate, kind: type[_E]) -> x509.Extension[_E] | None:
    try:
        return certificate.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def _check_ca(certificate: x509.Certificate, cas_below: int) -> None:
    subject = _subject(certificate)
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is None or not constraints.critical:
        raise CertChainError("CA without a critical basicConstraints", subject)
    if not constraints.value.ca:
        raise CertChainError("issuer is not a CA", subject)
    path_length = constraints.value.path_length
    if path_length is not None and cas_below > path_length:
        raise CertChainError(f"pathlen {path_length} exceeded by {cas_below} CAs below", subject)
    usage = _extension(certificate, x509.KeyUsage)
    if usage is None or not usage.value.key_cert_sign:
        raise CertChainError("CA keyUsage lacks keyCertSign", subject)


def _check_leaf(certificate: x509.Certificate, policy: ChainPolicy) -> None:
    subject = _subject(certificate)
    constraints = _extension(certificate, x509.BasicConstraints)
    if constraints is not None and constraints.value.ca:
        raise CertChainError("leaf is a CA", subject)
    if policy.leaf_basic_constraints and (constraints is None or not constraints.critical):
        raise CertChainError("leaf without a critical basicConstraints", subject)
    usage = _extension(certificate, x509.KeyUsage)
    if usage is None or not usage.value.digital_signature:
        raise CertChainError("leaf keyUsage lacks digitalSignature", subject)


def _check_profile(certificate: x509.Certificate, policy: ChainPolicy) -> None:
    subject = _subject(certificate)
    if policy.max_der_bytes is not None:
        size = len(certificate.public_bytes(serialization.Encoding.DER))
        if size > policy.max_der_bytes:
            raise CertChainError(
                f"{size} bytes DER, {policy.name} allows {policy.max_der_bytes}", subject
            )
    if policy.curve is not None:
        key = certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, policy.curve
        ):
            raise CertChainError(f"key is not on the curve {policy.name} requires", subject)
    if policy.hash is not None:
        digest = certificate.signature_hash_algorithm
        if not isinstance(digest, policy.hash):
            raise CertChainError(f"signature hash is not the one {policy.name} requires", subject)


def _find_anchor(
    certificate: x509.Certificate, anchors: Sequence[x509.Certificate]
) -> x509.Certificate:
    named = [a for a in anchors if a.subject == certificate.issuer]
    if not named:
        raise CertChainError("does not chain to a trust anchor", _subject(certificate))
    last: CertificateError | None = None
    for anchor in named:  # a rolled-over root may share its name with the old one
        try:
            _check_signed_by(certificate, anchor)
        except CertificateError as error:
            last = error
            continue
        return anchor
    assert last is not None
    raise last


def validate_chain(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime,
    policy: ChainPolicy = STATION,
    revocations: RevocationList | None = None,
    *,
    leaf_ca: bool = False,
) -> ValidChain:
    """Validate ``chain`` (leaf first, each certificate issued by the next) up to one of
    ``anchors`` at the instant ``at`` (timezone-aware), or raise the reason it fails.
    ``leaf_ca`` validates a chain that starts with a sub-CA (a configured intermediate)."""
    if not chain:
        raise CertChainError("empty chain")
    below = list(chain)
    # A chain sent with its root: drop the root, which must be a configured anchor anyway.
    if len(below) > 1 and _self_signed(below[-1]):
        root = below.pop()
        if all(root != a for a in anchors):
            raise CertChainError("root is not a trust anchor", _subject(root))
    if any(_self_signed(c) for c in below):
        raise CertChainError("self-signed certificate below the root", _subject(below[0]))
    if len(below) > policy.max_non_self_signed:
        raise CertChainError(
            f"{len(below)} certificates below the root, {policy.name} allows "
            f"{policy.max_non_self_signed}"
        )
    for index, certificate in enumerate(below):
        _check_validity(certificate, at)
        _check_profile(certificate, policy)
        if index == 0 and not leaf_ca:
            _check_leaf(certificate, policy)
        else:
            _check_ca(certificate, index if leaf_ca else index - 1)
        if index + 1 < len(below):
            _check_signed_by(certificate, below[index + 1])
    anchor = _find_anchor(below[-1], anchors)
    _check_validity(anchor, at)
    _check_ca(anchor, len(below) if leaf_ca else len(below) - 1)
    if revocations is not None:
        for certificate in below:
            if revocations.is_revoked(certificate):
                raise CertificateRevoked("on the local revocation list", _subject(certificate))
    return ValidChain((*below, anchor), anchor)


def validate_contract(
    chain: Sequence[x509.Certificate],
    mo_anchors: Sequence[x509.Certificate],
    at: datetime,
    policy: ChainPolicy = ISO15118_2,
    revocations: RevocationList | None = None,
    emaid: str | None = None,
) -> ValidChain:
    """Validate a contract certificate chain to an MO root: the chain checks, then the leaf's
    CN must be an EMAID (equal to ``emaid`` when given) whose contract is not cancelled."""
    valid = validate_chain(chain, mo_anchors, at, policy, revocations)
    subject = _subject(valid.leaf)
    name = common_name(valid.leaf)
    try:
        leaf_emaid = parse_emaid(name or "")
    except EmaidError as error:
        raise CertChainError(f"contract CN is not an EMAID: {error.reason}", subject) from None
    if emaid is not None:
        try:
            expected = parse_emaid(emaid)
        except EmaidError as error:
            raise CertChainError(f"presented EMAID invalid: {error.reason}", subject) from None
        if not leaf_emaid.same_account(expected):
            raise CertChainError(f"contract CN {leaf_emaid} is not the EMAID {expected}", subject)
    if revocations is not None and leaf_emaid.body in revocations.cancelled_emaids:
        raise ContractCancelled(f"contract {leaf_emaid} is cancelled", subject)
    return ValidChain(valid.certificates, valid.anchor, leaf_emaid)
