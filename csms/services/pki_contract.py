"""Plug & Charge Authorize (C07): what a contract certificate's checks mean for the answer.

Pure. ``contract_answer`` combines the certificate's status with the id token's
(C07.FR.13-17); ``parse_chain`` and ``request_data_list`` read what the station sent (the
``certificate`` PEM chain, or ``iso15118CertificateHashData``); ``find_issuer`` picks the
configured CA a hash-data entry names, whose key must have signed its OCSP answer;
``contract_policy`` is the ISO 15118 profile a leaf's key belongs to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from csms.services.ocsp_check import OcspRequestData
from csms.services.pki_csr import issuer_hashes
from csms.services.pki_material import PkiMaterial
from csms.services.x509_chain import (
    ISO15118_2,
    ISO15118_20,
    STATION,
    CertChainError,
    CertificateError,
    ChainPolicy,
    validate_chain,
    validate_contract,
)

__all__ = [
    "ACCEPTED",
    "CHAIN_KINDS",
    "IssuerIndex",
    "contract_answer",
    "contract_policy",
    "find_issuer",
    "parse_chain",
    "request_data_list",
    "verdict",
]

ACCEPTED = "Accepted"
#: Id-token statuses that make a valid contract ContractCancelled (C07.FR.13).
_TOKEN_REFUSED = frozenset({"Blocked", "Expired", "Invalid", "Unknown"})
#: The id-token status a certificate failure imposes (C07.FR.15-17).
_TOKEN_FOR_FAILURE = {
    "CertificateExpired": "Expired",
    "CertificateRevoked": "Invalid",
    "CertChainError": "Invalid",
    "SignatureError": "Invalid",
    "ContractCancelled": "Invalid",
}


def contract_answer(certificate_status: str, token_status: str) -> tuple[str, str]:
    """(certificateStatus, idTokenInfo.status) of the AuthorizeResponse, given the contract
    certificate's status and the id token's own.

    - a valid chain with a refused token: ContractCancelled, the token's status (C07.FR.13);
    - a valid chain with a usable token: Accepted, the token's status (C07.FR.14);
    - expired: CertificateExpired, Expired (C07.FR.15); revoked: CertificateRevoked, Invalid
      (C07.FR.16); not verifiable: CertChainError or SignatureError, Invalid (C07.FR.17);
    - NoCertificateAvailable (no Plug & Charge here): the token decides alone.
    """
    if certificate_status == ACCEPTED:
        if token_status in _TOKEN_REFUSED:
            return "ContractCancelled", token_status
        return ACCEPTED, token_status
    return certificate_status, _TOKEN_FOR_FAILURE.get(certificate_status, token_status)


def parse_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM chain (leaf first), or ``CertChainError``."""
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise CertChainError("certificate is not a PEM certificate chain") from None


def _hex(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise CertChainError(f"hash data without {key}")
    try:
        int(value, 16)
    except ValueError:
        raise CertChainError(f"hash data {key} is not hexadecimal") from None
    return value.upper()


def request_data_list(entries: Iterable[Mapping[str, Any]]) -> list[OcspRequestData]:
    """OCSPRequestDataType entries (wire JSON) as ``OcspRequestData``, or ``CertChainError``."""
    result = []
    for entry in entries:
        algorithm = entry.get("hashAlgorithm")
        if algorithm not in ("SHA256", "SHA384", "SHA512"):
            raise CertChainError(f"hash data with hash algorithm {algorithm!r}")
        result.append(
            OcspRequestData(
                algorithm,
                _hex(entry, "issuerNameHash"),
                _hex(entry, "issuerKeyHash"),
                _hex(entry, "serialNumber"),
                str(entry.get("responderURL") or ""),
            )
        )
    return result


class IssuerIndex:
    """The configured CAs by the (hashAlgorithm, issuerNameHash, issuerKeyHash) of the
    certificates they sign: a hash-data entry's issuer in one lookup."""

    def __init__(self, cas: Sequence[x509.Certificate]) -> None:
        self._by_hashes = {
            (algorithm, *issuer_hashes(ca, algorithm)): ca
            for ca in cas
            for algorithm in ("SHA256", "SHA384", "SHA512")
        }

    def find(self, data: OcspRequestData) -> x509.Certificate | None:
        key = (data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash)
        return self._by_hashes.get(key)


def find_issuer(data: OcspRequestData, cas: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The CA among ``cas`` whose name and key hash are those of ``data``."""
    return IssuerIndex(cas).find(data)


def contract_policy(leaf: x509.Certificate) -> ChainPolicy:
    """ISO 15118-20 for a P-521 contract key, ISO 15118-2 otherwise."""
    key = leaf.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP521R1):
        return ISO15118_20
    return ISO15118_2


#: What ``verdict`` validates a chain as: its anchors' attribute and its policy.
CHAIN_KINDS = ("contract", "secc", "station", "manufacturer")


def verdict(
    pem: str, kind: str, material: PkiMaterial, at: dt.datetime
) -> dict[str, str | bool | None]:
    """A PEM chain's validation result, as the REST API shows it: ``valid``, the OCPP
    ``status`` (Accepted or the rejection), the exact ``reason``, the EMAID of a contract."""
    try:
        chain = parse_chain(pem)
        if not chain:
            raise CertChainError("no certificate")
        if kind == "contract":
            valid = validate_contract(chain, material.mo_roots, at, contract_policy(chain[0]))
        elif kind == "secc":
            valid = validate_chain(chain, material.v2g_roots, at, contract_policy(chain[0]))
        elif kind == "station":
            valid = validate_chain(chain, material.csms_roots, at, STATION)
        else:
            valid = validate_chain(chain, material.manufacturer_roots, at, STATION)
    except CertificateError as error:
        return {"valid": False, "status": error.status, "reason": str(error), "emaid": None}
    return {
        "valid": True,
        "status": ACCEPTED,
        "reason": None,
        "emaid": str(valid.emaid) if valid.emaid else None,
        "anchor": valid.anchor.subject.rfc4514_string(),
    }
