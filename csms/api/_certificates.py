"""Certificates (OCPP 2.0.1 A02, M03-M05; docs/OCPP.md "Certificates"): what the node stored
(certificates it signed for stations and installed on them, contract certificates), install,
delete and list the certificates on a station (InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds), trigger a renewal (TriggerMessage SignChargingStationCertificate
or SignV2GCertificate), validate a PEM chain against the configured trust anchors, look a
contract up by EMAID. Commands go through the gateway like every device command (audit, 409 for
a station not connected); what a station accepted is stored in ``iso15118_certificates``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from cryptography import x509
from starlette.responses import Response

from csms.domain.events import CertificateDeleted, CertificateInstalled
from csms.services.emaid import EmaidError, parse_emaid
from csms.services.pki_contract import CHAIN_KINDS
from csms.services.pki_csr import hash_data, pem_chain
from csms.storage import certificates as repo
from csms.storage.certificates import CertificateRow

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from ._send import require_station, send_command
from .bodies import STATION_ID_PATTERN

__all__ = ["ENDPOINTS"]

_DOCS = {"stationId": "The station's identity."}
INSTALL_TYPES = (
    "V2GRootCertificate",
    "MORootCertificate",
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
)
RENEW_TYPES = {
    "ChargingStationCertificate": "SignChargingStationCertificate",
    "V2GCertificate": "SignV2GCertificate",
}
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
class InstallBody:
    """InstallCertificate (M05): a root certificate (PEM) of ``certificateType``."""

    certificate_type: str = spec(enum=INSTALL_TYPES)
    certificate: str = spec(
        min_length=1, max_length=5500, description="The PEM certificate to install."
    )


@attrs.frozen
class RenewBody:
    """A02: TriggerMessage for a new CSR of this type (optionally of one EVSE's SECC)."""

    certificate_type: str = spec(enum=tuple(RENEW_TYPES))
    evse_id: int | None = spec(None, minimum=1)


@attrs.frozen
class ValidateBody:
    """A PEM chain (leaf first) and what it should be: a ``contract`` (to the MO roots), a
    ``secc`` certificate (V2G roots), a ``station`` certificate (CSMS roots) or a
    ``manufacturer`` one."""

    pem: str = spec(min_length=1, max_length=20_000)
    kind: str = spec("contract", enum=CHAIN_KINDS)


@attrs.frozen
class CommandAnswer:
    """The station's answer (``status``) to the command, and the command's audit id."""

    status: str
    command_id: str
    response: dict[str, Any]


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


def _answer(result: Any) -> CommandAnswer:
    return CommandAnswer(
        str(result.response.get("status")), result.command_id, dict(result.response)
    )


async def install(call: Call) -> Response:
    body: InstallBody = call.body
    station_id = call.path("stationId")
    await require_station(call, station_id)  # 404 before anything about the body
    try:
        certificate = x509.load_pem_x509_certificate(body.certificate.strip().encode())
    except ValueError:
        raise InvalidBody("not a PEM certificate", field="certificate") from None
    if certificate.subject != certificate.issuer:
        raise InvalidBody("InstallCertificate installs root certificates", field="certificate")
    result = await send_command(
        call,
        station_id,
        "InstallCertificate",
        {"certificateType": body.certificate_type, "certificate": pem_chain([certificate])},
    )
    answer = _answer(result)
    hashed = hash_data(certificate)
    if answer.status == "Accepted":  # M05.FR.02: the station trusts it now
        existing = await call.control.database.run(
            repo.by_hash_data,
            hashed.hash_algorithm,
            hashed.issuer_name_hash,
            hashed.issuer_key_hash,
            hashed.serial_number,
        )
        if not any(row.station_id == station_id for row in existing):  # M05.FR.17: replaced
            await call.control.database.run(
                repo.insert,
                kind=body.certificate_type,
                station_id=station_id,
                subject=certificate.subject.rfc4514_string(),
                issuer=certificate.issuer.rfc4514_string(),
                serial_number=hashed.serial_number,
                hash_algorithm=hashed.hash_algorithm,
                issuer_name_hash=hashed.issuer_name_hash,
                issuer_key_hash=hashed.issuer_key_hash,
                certificate_pem=pem_chain([certificate]),
                valid_from=certificate.not_valid_before_utc,
                valid_to=certificate.not_valid_after_utc,
            )
    call.control.certificates.publish(
        CertificateInstalled(
            station_id=station_id,
            certificate_type=body.certificate_type,
            serial_number=hashed.serial_number,
            status=answer.status,
        )
    )
    return json_response(answer)


async def delete(call: Call) -> Response:
    station_id = call.path("stationId")
    serial = call.path("hash").upper()
    q = call.query
    await require_station(call, station_id)
    rows = await call.control.database.run(repo.list_certificates, station_id=station_id)
    stored = [r for r in rows if r.serial_number == serial]
    if stored:  # M04.FR.07: the hash data as stored (the algorithm the station reported)
        row = stored[0]
        data = {
            "hashAlgorithm": row.hash_algorithm,
            "issuerNameHash": row.issuer_name_hash,
            "issuerKeyHash": row.issuer_key_hash,
            "serialNumber": row.serial_number,
        }
    else:
        for name in ("issuerNameHash", "issuerKeyHash"):
            if not q[name]:
                raise InvalidBody(
                    f"no stored certificate {serial} on {station_id}: give {name}", field=name
                )
        data = {
            "hashAlgorithm": q["hashAlgorithm"],
            "issuerNameHash": q["issuerNameHash"],
            "issuerKeyHash": q["issuerKeyHash"],
            "serialNumber": serial,
        }
    result = await send_command(
        call, station_id, "DeleteCertificate", {"certificateHashData": data}
    )
    answer = _answer(result)
    if answer.status == "Accepted":
        for row in stored:
            await call.control.database.run(repo.remove, row.id)
    call.control.certificates.publish(
        CertificateDeleted(station_id=station_id, serial_number=serial, status=answer.status)
    )
    return json_response(answer)


async def installed(call: Call) -> Response:
    types = [t for t in (call.query["type"] or "").split(",") if t]
    payload: dict[str, Any] = {"certificateType": types} if types else {}
    result = await send_command(call, call.path("stationId"), "GetInstalledCertificateIds", payload)
    return json_response(_answer(result))


async def renew(call: Call) -> Response:
    body: RenewBody = call.body
    payload: dict[str, Any] = {"requestedMessage": RENEW_TYPES[body.certificate_type]}
    if body.evse_id is not None:
        payload["evse"] = {"id": body.evse_id}
    result = await send_command(call, call.path("stationId"), "TriggerMessage", payload)
    return json_response(_answer(result))


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


ENDPOINTS = (
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
        "POST",
        "/api/v1/devices/{stationId}/certificates/install",
        install,
        Role.OPERATOR,
        "Install a root certificate on a station (InstallCertificate, M05)",
        "certificates",
        body=InstallBody,
        response=CommandAnswer,
        errors=(404, 409, 422, 502, 504),
        path_docs=_DOCS,
        description="Accepted: stored as installed on the station (`GET /api/v1/certificates`).",
    ),
    Endpoint(
        "DELETE",
        "/api/v1/devices/{stationId}/certificates/{hash}",
        delete,
        Role.OPERATOR,
        "Delete a certificate from a station (DeleteCertificate, M04)",
        "certificates",
        response=CommandAnswer,
        query=(
            Param("hashAlgorithm", enum=("SHA256", "SHA384", "SHA512"), default="SHA256"),
            Param(
                "issuerNameHash",
                description="When the node has not stored it.",
                pattern="^[0-9A-Fa-f]{1,128}$",
            ),
            Param(
                "issuerKeyHash",
                description="When the node has not stored it.",
                pattern="^[0-9A-Fa-f]{1,128}$",
            ),
        ),
        errors=(404, 409, 422, 502, 504),
        path_docs={**_DOCS, "hash": "The certificate's serial number (hexadecimal)."},
    ),
    Endpoint(
        "GET",
        "/api/v1/devices/{stationId}/certificates/installed",
        installed,
        Role.OPERATOR,
        "The certificates a station holds (GetInstalledCertificateIds, M03)",
        "certificates",
        response=CommandAnswer,
        query=(Param("type", description="Comma-separated GetCertificateIdUseEnumType values."),),
        errors=(404, 409, 502, 504),
        path_docs=_DOCS,
    ),
    Endpoint(
        "POST",
        "/api/v1/devices/{stationId}/certificates/renew",
        renew,
        Role.OPERATOR,
        "Have a station renew its certificate (TriggerMessage, A02)",
        "certificates",
        body=RenewBody,
        response=CommandAnswer,
        errors=(404, 409, 422, 502, 504),
        path_docs=_DOCS,
        description="The station then sends SignCertificate; CertificateSigned follows.",
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
