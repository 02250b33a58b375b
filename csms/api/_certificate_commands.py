"""Certificates on a station (OCPP 2.0.1 M03-M05, A02): install, delete and list them
(InstallCertificate, DeleteCertificate, GetInstalledCertificateIds) and trigger a renewal
(TriggerMessage SignChargingStationCertificate / SignV2GCertificate), and give it the network
profile of a higher security profile (SetNetworkProfile, A05). Commands go through the
gateway like every device command (audit, 409 for a station not connected); what a station
accepted is stored in ``iso15118_certificates`` and published as ``security.certificate.*``."""

from __future__ import annotations

from typing import Any

import attrs
from cryptography import x509
from starlette.responses import Response

from csms.domain.events import CertificateDeleted, CertificateInstalled
from csms.services.pki_csr import hash_data, pem_chain, stored_columns
from csms.storage import certificates as repo

from ._auth import Role
from ._errors import InvalidBody
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from ._send import require_station, send_command

__all__ = ["ENDPOINTS", "INSTALL_TYPES"]

_DOCS = {"stationId": "The station's identity."}
INSTALL_TYPES = (
    "V2GRootCertificate",
    "MORootCertificate",
    "CSMSRootCertificate",
    "ManufacturerRootCertificate",
)
OCPP_INTERFACES = tuple(f"{kind}{n}" for kind in ("Wired", "Wireless") for n in range(4))
RENEW_TYPES = {
    "ChargingStationCertificate": "SignChargingStationCertificate",
    "V2GCertificate": "SignV2GCertificate",
    # TC_A_13: one CSR for a certificate used for both (the station sends SignCertificate twice
    # or once, as its device model says)
    "CombinedCertificate": "SignCombinedCertificate",
}


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
class NetworkProfileBody:
    """SetNetworkProfile (B09) for a security profile upgrade (A05): the NetworkConnectionProfile
    of ``configurationSlot``. Put the slot first in ``OCPPCommCtrlr.NetworkConfigurationPriority``
    (``POST .../variables``) and reset the station for it to take effect."""

    configuration_slot: int = spec(minimum=0, example=2)
    ocpp_csms_url: str = spec(
        pattern="^wss?://", max_length=2000, example="wss://csms.example:9443/ocpp"
    )
    security_profile: int = spec(minimum=1, maximum=3, example=3)
    ocpp_interface: str = spec("Wired0", enum=OCPP_INTERFACES)
    message_timeout: int = spec(30, minimum=1, maximum=3600)
    ocpp_version: str = spec("OCPP20", enum=("OCPP12", "OCPP15", "OCPP16", "OCPP20"))


@attrs.frozen
class CommandAnswer:
    """The station's answer (``status``) to the command, and the command's audit id."""

    status: str
    command_id: str
    response: dict[str, Any]


def _answer(result: Any) -> CommandAnswer:
    status = str(result.response.get("status"))
    return CommandAnswer(status, result.command_id, dict(result.response))


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
                **stored_columns(certificate),
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


async def network_profile(call: Call) -> Response:
    body: NetworkProfileBody = call.body
    station_id = call.path("stationId")
    row = await require_station(call, station_id)
    if body.security_profile < row.security_profile:
        # A05: a station is never moved back to a lower profile through OCPP
        raise InvalidBody(
            f"the station is on security profile {row.security_profile}: no lower one",
            field="securityProfile",
        )
    connection = {
        "ocppVersion": body.ocpp_version,
        "ocppTransport": "JSON",
        "ocppCsmsUrl": body.ocpp_csms_url,
        "messageTimeout": body.message_timeout,
        "securityProfile": body.security_profile,
        "ocppInterface": body.ocpp_interface,
    }
    payload = {"configurationSlot": body.configuration_slot, "connectionData": connection}
    result = await send_command(call, station_id, "SetNetworkProfile", payload)
    return json_response(_answer(result))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/devices/{stationId}/certificates/install",
        install,
        Role.OPERATOR,
        "Install a root certificate on a station (InstallCertificate, M05)",
        "certificates",
        body=InstallBody,
        body_rules="`certificate` is one PEM root (self-signed) certificate; otherwise 422.",
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
        "POST",
        "/api/v1/devices/{stationId}/network-profile",
        network_profile,
        Role.OPERATOR,
        "Give a station a network connection profile (SetNetworkProfile, B09/A05)",
        "certificates",
        body=NetworkProfileBody,
        body_rules="`securityProfile` may not be below the station's current one (A05).",
        response=CommandAnswer,
        errors=(404, 409, 422, 502, 504),
        path_docs=_DOCS,
        description="A05 security profile upgrade: then NetworkConfigurationPriority and a"
        " reset (docs/OCPP.md).",
    ),
)
