"""Certificates the node knows (docs/OCPP.md "Certificates"): those it signed for stations and
installed on them, contract certificates registered by EMAID, the local revocation list, how each
SignCertificate ended; a PEM chain's verdict against the configured trust anchors. The commands
to a station's certificates are ``_certificate_commands``."""

from __future__ import annotations

import datetime as dt

import attrs
from cryptography import x509
from psycopg.errors import UniqueViolation
from starlette.responses import Response

from csms.services.emaid import EmaidError, parse_emaid
from csms.services.pki_contract import CHAIN_KINDS
from csms.services.pki_csr import stored_columns
from csms.storage import NotFound as StorageNotFound
from csms.storage import certificates as repo
from csms.storage.certificates import CertificateRow

from ._auth import Role
from ._certificate_commands import INSTALL_TYPES
from ._errors import Conflict, InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = ["ENDPOINTS"]

_DOCS = {"stationId": "The station's identity."}
KINDS = (*INSTALL_TYPES, "V2GCertificateChain", "ContractCertificate", "ChargingStationCertificate")


@attrs.frozen
class Certificate:
    """A certificate the node stored: signed for a station, installed on it, or a contract."""

    id: int
    kind: str
    station_id: str | None
    emaid: str | None
    subject: str
    issuer: str
    serial_number: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    revoked_at: dt.datetime | None


@attrs.frozen
class CertificateList:
    items: list[Certificate]


@attrs.frozen
class ValidateBody:
    """A PEM chain (leaf first) and what it should be: a ``contract`` (to the MO roots), a
    ``secc`` certificate (V2G roots), a ``station`` certificate (CSMS roots) or a
    ``manufacturer`` one."""

    pem: str = spec(min_length=1, max_length=20_000)
    kind: str = spec("contract", enum=CHAIN_KINDS)


@attrs.frozen
class Verdict:
    """``valid``; ``status``: Accepted or the OCPP rejection (CertChainError,
    CertificateExpired, CertificateRevoked, SignatureError, ContractCancelled); ``reason``: the
    exact cause; ``emaid``: a contract leaf's."""

    valid: bool
    status: str
    reason: str | None = None
    emaid: str | None = None
    anchor: str | None = None


@attrs.frozen
class Contract:
    """An EMAID: its canonical form, the contract certificates stored for it, and the newest
    one's validation against the configured MO roots."""

    emaid: str
    certificates: list[Certificate]
    verdict: Verdict | None


@attrs.frozen
class ContractBody:
    """A contract certificate chain (PEM, leaf first, with its sub-CAs) to register: it must
    validate to a configured MO root; its leaf's CN is the EMAID."""

    pem: str = spec(min_length=1, max_length=20_000)
    contract_id: str | None = spec(None, max_length=100)
    vin: str | None = spec(None, pattern="^[A-HJ-NPR-Z0-9]{17}$")


@attrs.frozen
class Signing:
    """How a SignCertificate ended: Rejected (the CSR), Accepted / StationRejected (the
    station's answer to CertificateSigned), Failed (no certificate reached it)."""

    station_id: str
    certificate_type: str
    outcome: str
    reason: str | None
    serial_number: str | None
    valid_to: dt.datetime | None
    at: dt.datetime


@attrs.frozen
class SigningList:
    items: list[Signing]


def _view(row: CertificateRow) -> Certificate:
    return Certificate(
        row.id,
        row.kind,
        row.station_id,
        row.emaid,
        row.subject,
        row.issuer,
        row.serial_number,
        row.hash_algorithm,
        row.issuer_name_hash,
        row.issuer_key_hash,
        row.valid_from,
        row.valid_to,
        row.revoked_at,
    )


async def list_certificates(call: Call) -> Response:
    q = call.query
    rows = await call.control.database.run(
        repo.list_certificates, station_id=q["stationId"], kind=q["type"]
    )
    return json_response(CertificateList([_view(r) for r in rows]))


async def validate(call: Call) -> Response:
    body: ValidateBody = call.body
    return json_response(Verdict(**call.control.certificates.validate(body.pem, body.kind)))


async def contract(call: Call) -> Response:
    try:
        emaid = parse_emaid(call.path("emaid"))
    except EmaidError as error:  # no contract can have it: a path that names nothing
        raise NotFound(f"not an EMAID: {error.reason}") from None
    rows = await call.control.database.run(repo.find_contract, emaid=str(emaid))
    if not rows:
        raise NotFound(f"no contract certificate for {emaid}")
    verdict = call.control.certificates.validate(rows[0].certificate_pem, "contract")
    return json_response(Contract(str(emaid), [_view(r) for r in rows], Verdict(**verdict)))


async def register_contract(call: Call) -> Response:
    body: ContractBody = call.body
    verdict = call.control.certificates.validate(body.pem, "contract")
    if not verdict["valid"]:
        raise InvalidBody(f"{verdict['status']}: {verdict['reason']}", field="pem")
    chain = x509.load_pem_x509_certificates(body.pem.encode())
    if len(chain) < 2:
        raise InvalidBody("send the leaf with its sub-CAs", field="pem")
    leaf = chain[0]
    try:
        row = await call.control.database.run(
            repo.insert,
            kind="ContractCertificate",
            emaid=verdict["emaid"],
            contract_id=body.contract_id,
            vin=body.vin,
            **stored_columns(leaf, chain[1], chain),
        )
    except UniqueViolation:
        raise Conflict("this contract certificate is registered already") from None
    return json_response(_view(row), 201)


async def revoke(call: Call) -> Response:
    """The local revocation list: Authorize answers CertificateRevoked for it (C07.FR.16)."""
    try:
        certificate_id = int(call.path("id"))
        await call.control.database.run(repo.revoke, certificate_id, dt.datetime.now(dt.UTC))
    except (ValueError, StorageNotFound):
        raise NotFound(f"no unrevoked certificate {call.path('id')!r}") from None
    rows = await call.control.database.run(repo.list_certificates)
    return json_response(next(_view(r) for r in rows if r.id == certificate_id))


async def signings(call: Call) -> Response:
    q = call.query
    rows = await call.control.database.run(
        repo.list_signings, station_id=q["stationId"], limit=q["limit"]
    )
    return json_response(
        SigningList(
            [
                Signing(
                    r.station_id,
                    r.certificate_type,
                    r.outcome,
                    r.reason,
                    r.serial_number,
                    r.valid_to,
                    r.at,
                )
                for r in rows
            ]
        )
    )


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/contracts",
        register_contract,
        Role.OPERATOR,
        "Register a contract certificate (validated to a configured MO root)",
        "certificates",
        ok=201,
        body=ContractBody,
        body_rules=(
            "`pem` is a PEM chain, the leaf with its sub-CAs, that validates to a configured MO "
            "root; otherwise 422 naming `pem` with the rejection and its reason."
        ),
        response=Certificate,
        errors=(409, 422),
    ),
    Endpoint(
        "POST",
        "/api/v1/certificates/{id}/revoke",
        revoke,
        Role.OPERATOR,
        "Put a stored certificate on the local revocation list",
        "certificates",
        response=Certificate,
        errors=(404,),
        path_docs={"id": "The certificate's id (GET /api/v1/certificates)."},
    ),
    Endpoint(
        "GET",
        "/api/v1/certificates/signings",
        signings,
        Role.VIEWER,
        "How each SignCertificate ended, newest first",
        "certificates",
        response=SigningList,
        query=(
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/certificates",
        list_certificates,
        Role.VIEWER,
        "Certificates the node stored (signed for, installed on stations; contracts)",
        "certificates",
        response=CertificateList,
        query=(
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("type", description="Only this kind.", enum=KINDS),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/contracts/{emaid}",
        contract,
        Role.VIEWER,
        "A contract by EMAID: its stored certificates and their validation",
        "certificates",
        response=Contract,
        errors=(404,),
        path_docs={"emaid": "The EMAID, with or without hyphens."},
    ),
    Endpoint(
        "POST",
        "/api/v1/pki/validate",
        validate,
        Role.VIEWER,
        "Validate a PEM chain against the configured trust anchors",
        "certificates",
        body=ValidateBody,
        response=Verdict,
        errors=(422,),
    ),
)
