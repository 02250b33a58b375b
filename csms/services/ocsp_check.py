"""OCSP: requests built from a certificate, responses checked, results cached, responders vetted.

Pure: no network. The caller sends ``build_request(...)`` to a responder URL that passed
``check_responder_url`` and hands the answer to ``check_response``, which verifies that the
response is signed by the certificate's issuer or by a responder the issuer delegated
(certified by it, with the OCSPSigning extended key usage), that it is about this certificate,
and that it is fresh at the given instant (``thisUpdate`` not in the future, ``nextUpdate`` not
passed). The ``OcspResult`` carries ``nextUpdate``, until which ``OcspCache`` keeps it.

A responder URL is only trusted when a certificate chained to a configured trust anchor names
it in its authorityInfoAccess: a URL a station supplies in GetCertificateStatus is looked up in
that set, never fetched as such (fetching arbitrary URLs for a station is a server-side request
forgery).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from csms.services.x509_chain import (
    CertificateError,
    CertificateRevoked,
    SignatureError,
    ValidChain,
    validate_chain,
)

__all__ = [
    "OcspCache",
    "OcspRequestData",
    "OcspResponseError",
    "OcspResult",
    "OcspStatus",
    "UntrustedResponder",
    "build_request",
    "chain_responder_urls",
    "check_responder_url",
    "check_response",
    "ensure_good",
    "request_data",
    "responder_urls",
    "vouched_responder_urls",
]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
# Clocks of responders and stations drift; a thisUpdate this far ahead is still accepted.
_SKEW = timedelta(minutes=5)


class OcspResponseError(Exception):
    """No usable answer about the certificate (malformed, unsuccessful, not about it, stale)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UntrustedResponder(OcspResponseError):
    """The responder URL is not vouched for by a configured trust anchor's chain."""


class OcspStatus(StrEnum):
    GOOD = "Good"
    REVOKED = "Revoked"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class OcspRequestData:
    """OCPP's OCSPRequestDataType: which certificate, and where to ask (hex, upper case)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (
            self.hash_algorithm,
            self.issuer_name_hash.upper(),
            self.issuer_key_hash.upper(),
            self.serial_number.upper().lstrip("0") or "0",
        )


@dataclass(frozen=True, slots=True)
class OcspResult:
    status: OcspStatus
    this_update: datetime
    next_update: datetime | None
    revocation_time: datetime | None
    response_der: bytes


def responder_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """The OCSP responder URLs in the certificate's authorityInfoAccess."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        str(d.access_location.value)
        for d in access.value
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def _algorithm(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise OcspResponseError(f"unsupported hash algorithm {name!r}") from None


def request_data(
    certificate: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "SHA256"
) -> OcspRequestData:
    """The OCPP request data of ``certificate``; the URL is the first of its AIA, or empty."""
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, _algorithm(hash_algorithm))
        .build()
    )
    urls = responder_urls(certificate)
    return OcspRequestData(
        hash_algorithm,
        request.issuer_name_hash.hex().upper(),
        request.issuer_key_hash.hex().upper(),
        format(request.serial_number, "X"),
        urls[0] if urls else "",
    )


def build_request(data: OcspRequestData) -> bytes:
    """The DER OCSP request for ``data`` (no nonce: responses are cached and shared)."""
    try:
        name_hash = bytes.fromhex(data.issuer_name_hash)
        key_hash = bytes.fromhex(data.issuer_key_hash)
        serial = int(data.serial_number, 16)
    except ValueError:
        raise OcspResponseError("request data is not hexadecimal") from None
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash, key_hash, serial, _algorithm(data.hash_algorithm)
    )
    return builder.build().public_bytes(Encoding.DER)


def _signed_by(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == issuer.subject
    key_id = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
    return response.responder_key_hash == key_id


def _responder(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime
) -> x509.Certificate:
    if _signed_by(response, issuer):
        return issuer
    for delegate in response.certificates:
        if not _signed_by(response, delegate):
            continue
        try:
            delegate.verify_directly_issued_by(issuer)
        except (ValueError, InvalidSignature, TypeError):
            raise SignatureError("OCSP responder not certified by the issuer") from None
        try:
            usage = list(delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        except x509.ExtensionNotFound:
            usage = []
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise SignatureError("OCSP responder certificate lacks OCSPSigning")
        if not delegate.not_valid_before_utc <= at <= delegate.not_valid_after_utc:
            raise OcspResponseError("OCSP responder certificate not valid now")
        return delegate
    raise SignatureError("OCSP response signed by neither the issuer nor a delegate of it")


def _verify_signature(response: ocsp.OCSPResponse, responder: x509.Certificate) -> None:
    key = responder.public_key()
    digest = response.signature_hash_algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey) and digest is not None:
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), digest)
        else:
            raise SignatureError("unsupported OCSP signature algorithm")
    except InvalidSignature:
        raise SignatureError("OCSP response signature does not verify") from None


def check_response(
    der: bytes, data: OcspRequestData, issuer: x509.Certificate, at: datetime
) -> OcspResult:
    """Check the DER OCSP response ``der`` about ``data`` (a certificate of ``issuer``) at
    ``at``: ``SignatureError`` when not signed by the issuer or its delegate,
    ``OcspResponseError`` when unusable; otherwise the status with its validity window."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError:
        raise OcspResponseError("malformed OCSP response") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspResponseError(f"responder answered {response.response_status.name}")
    _verify_signature(response, _responder(response, issuer, at))
    single = next((r for r in response.responses if _about(r, data)), None)
    if single is None:
        raise OcspResponseError("OCSP response is not about this certificate")
    if single.this_update_utc > at + _SKEW:
        raise OcspResponseError("OCSP thisUpdate is in the future")
    next_update = single.next_update_utc
    if next_update is not None and at > next_update:
        raise OcspResponseError("OCSP response is stale: nextUpdate has passed")
    status = {
        ocsp.OCSPCertStatus.GOOD: OcspStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED: OcspStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN: OcspStatus.UNKNOWN,
    }[single.certificate_status]
    return OcspResult(status, single.this_update_utc, next_update, single.revocation_time_utc, der)


def _about(single: ocsp.OCSPSingleResponse, data: OcspRequestData) -> bool:
    try:
        return (
            single.hash_algorithm.name.upper() == data.hash_algorithm
            and single.issuer_name_hash == bytes.fromhex(data.issuer_name_hash)
            and single.issuer_key_hash == bytes.fromhex(data.issuer_key_hash)
            and single.serial_number == int(data.serial_number, 16)
        )
    except ValueError:
        return False


def ensure_good(result: OcspResult, subject: str = "") -> None:
    """Raise ``CertificateRevoked`` for a revoked certificate, ``CertificateError`` for one
    the responder does not know; return for a good one."""
    if result.status is OcspStatus.REVOKED:
        raise CertificateRevoked("revoked according to OCSP", subject)
    if result.status is OcspStatus.UNKNOWN:
        raise CertificateError("unknown to the OCSP responder", subject)


class OcspCache:
    """Results by certificate, each kept until its ``nextUpdate`` (never past it); a result
    without ``nextUpdate`` is not kept, since newer information is always available then."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[tuple[str, str, str, str], OcspResult] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, data: OcspRequestData, at: datetime) -> OcspResult | None:
        result = self._entries.get(data.key)
        if result is None:
            return None
        if result.next_update is None or at > result.next_update:
            del self._entries[data.key]
            return None
        self._entries.move_to_end(data.key)
        return result

    def put(self, data: OcspRequestData, result: OcspResult) -> None:
        if result.next_update is None:
            return
        self._entries[data.key] = result
        self._entries.move_to_end(data.key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


def chain_responder_urls(chain: ValidChain) -> frozenset[str]:
    """The responder URLs named by the certificates of a validated chain."""
    return frozenset(url for c in chain.certificates for url in responder_urls(c))


def vouched_responder_urls(
    anchors: Sequence[x509.Certificate],
    ca_chains: Iterable[Sequence[x509.Certificate]],
    at: datetime,
) -> frozenset[str]:
    """The responder URLs the configured trust anchors vouch for: those of the anchors and of
    each configured sub-CA chain (sub-CA first) that validates to one of them. A chain that
    does not validate contributes nothing."""
    urls = {url for anchor in anchors for url in responder_urls(anchor)}
    for chain in ca_chains:
        try:
            valid = validate_chain(chain, anchors, at, leaf_ca=True)
        except CertificateError:
            continue
        urls |= chain_responder_urls(valid)
    return frozenset(urls)


def check_responder_url(url: str, vouched: frozenset[str]) -> str:
    """``url`` when a trust anchor vouches for it, else ``UntrustedResponder``. The match is
    exact: no normalisation that a crafted URL could exploit."""
    if url not in vouched:
        raise UntrustedResponder(f"responder URL not vouched for by a trust anchor: {url!r}")
    return url
