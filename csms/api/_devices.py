"""Device commands (SPEC section 10): compact bodies for the common ones, and the generic
``POST devices/{id}/ocpp/{action}`` whose body is the OCPP payload exactly as on the wire.

Every payload is checked against the station's OCPP schema by its actor before it is sent; a
payload the schema refuses is 422 naming the field. Request ids (``remoteStartId``,
``requestId``) are generated when the body does not give one and returned in ``request``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.responses import Response

from csms.services.basic_auth import masked

from ._auth import Role
from ._errors import InvalidBody
from ._routing import Call, Endpoint, Param, json_response
from ._send import send_command
from .bodies import (
    AvailabilityBody,
    ChargingProfileBody,
    CommandReply,
    RemoteStart,
    RemoteStop,
    ResetBody,
    SetVariablesBody,
    TriggerBody,
    UnlockBody,
)

__all__ = ["ENDPOINTS"]

_PREFIX = "/api/v1/devices/{stationId}"
_ERRORS = (404, 409, 422, 502, 503, 504)
_DOCS = {"stationId": "The station's identity."}


#: ``setVariableData[3]`` of the SetVariables payload is ``variables.3`` of the body.
_SET_VARIABLE_FIELD = re.compile(r"^setVariableData\[(\d+)\]")


def _request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


async def _reply(call: Call, action: str, payload: dict[str, Any]) -> Response:
    result = await send_command(call, call.path("stationId"), action, payload)
    shown = dict(masked(action, payload))  # a new BasicAuthPassword is not echoed
    return json_response(CommandReply(result.command_id, action, shown, dict(result.response)))


async def remote_start(call: Call) -> Response:
    body: RemoteStart = call.body
    payload = _drop_none(
        {
            "idToken": {"idToken": body.id_token, "type": body.id_token_type},
            "remoteStartId": body.remote_start_id
            if body.remote_start_id is not None
            else _request_id(),
            "evseId": body.evse_id,
            "chargingProfile": body.charging_profile,
        }
    )
    return await _reply(call, "RequestStartTransaction", payload)


async def remote_stop(call: Call) -> Response:
    body: RemoteStop = call.body
    return await _reply(call, "RequestStopTransaction", {"transactionId": body.transaction_id})


async def reset(call: Call) -> Response:
    body: ResetBody = call.body
    return await _reply(call, "Reset", _drop_none({"type": body.type, "evseId": body.evse_id}))


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, int] | None:
    if evse_id is None:
        return None
    return _drop_none({"id": evse_id, "connectorId": connector_id})


async def trigger(call: Call) -> Response:
    body: TriggerBody = call.body
    payload = _drop_none(
        {
            "requestedMessage": call.path("message"),
            "evse": _evse(body.evse_id, body.connector_id),
        }
    )
    return await _reply(call, "TriggerMessage", payload)


async def unlock(call: Call) -> Response:
    body: UnlockBody = call.body
    payload = {"evseId": body.evse_id, "connectorId": body.connector_id}
    return await _reply(call, "UnlockConnector", payload)


async def availability(call: Call) -> Response:
    body: AvailabilityBody = call.body
    payload = _drop_none(
        {
            "operationalStatus": body.operational_status,
            "evse": _evse(body.evse_id, body.connector_id),
        }
    )
    return await _reply(call, "ChangeAvailability", payload)


async def set_charging_profile(call: Call) -> Response:
    body: ChargingProfileBody = call.body
    payload = {"evseId": body.evse_id, "chargingProfile": body.charging_profile}
    return await _reply(call, "SetChargingProfile", payload)


async def clear_charging_profile(call: Call) -> Response:
    q = call.query
    criteria = _drop_none(
        {
            "evseId": q["evseId"],
            "chargingProfilePurpose": q["purpose"],
            "stackLevel": q["stackLevel"],
        }
    )
    payload = _drop_none(
        {"chargingProfileId": q["chargingProfileId"], "chargingProfileCriteria": criteria or None}
    )
    return await _reply(call, "ClearChargingProfile", payload)


async def get_charging_profiles(call: Call) -> Response:
    q = call.query
    criteria = _drop_none(
        {
            "chargingProfilePurpose": q["purpose"],
            "stackLevel": q["stackLevel"],
            "chargingProfileId": [q["chargingProfileId"]] if q["chargingProfileId"] else None,
        }
    )
    payload = _drop_none(
        {
            "requestId": q["requestId"] if q["requestId"] is not None else _request_id(),
            "evseId": q["evseId"],
            "chargingProfile": criteria,
        }
    )
    return await _reply(call, "GetChargingProfiles", payload)


def _component(
    name: str, instance: str | None, evse_id: int | None, connector_id: int | None
) -> Any:
    return _drop_none({"name": name, "instance": instance, "evse": _evse(evse_id, connector_id)})


async def get_variables(call: Call) -> Response:
    q = call.query
    entry = _drop_none(
        {
            "component": _component(
                q["component"], q["componentInstance"], q["evseId"], q["connectorId"]
            ),
            "variable": _drop_none({"name": q["variable"], "instance": q["variableInstance"]}),
            "attributeType": q["attributeType"],
        }
    )
    return await _reply(call, "GetVariables", {"getVariableData": [entry]})


async def set_variables(call: Call) -> Response:
    body: SetVariablesBody = call.body
    data = [
        _drop_none(
            {
                "component": _component(
                    v.component, v.component_instance, v.evse_id, v.connector_id
                ),
                "variable": _drop_none({"name": v.variable, "instance": v.variable_instance}),
                "attributeValue": v.value,
                "attributeType": v.attribute_type,
            }
        )
        for v in body.variables
    ]
    try:
        return await _reply(call, "SetVariables", {"setVariableData": data})
    except InvalidBody as exc:  # the station actor names the OCPP field: name the body's
        field = _SET_VARIABLE_FIELD.sub(r"variables.\1", exc.field).replace(
            "attributeValue", "value"
        )
        raise InvalidBody(exc.message, field=field, code=exc.code) from None


async def generic(call: Call) -> Response:
    action = call.path("action")
    result = await send_command(call, call.path("stationId"), action, call.body)
    return json_response(dict(result.response), headers={"X-Command-Id": result.command_id})


_PURPOSES = (
    "ChargingStationExternalConstraints",
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
    "PriorityCharging",
    "LocalGeneration",
)
_TRIGGER_DOC = (
    "The MessageTriggerEnum value: BootNotification, Heartbeat, StatusNotification, "
    "MeterValues, TransactionEvent, LogStatusNotification, FirmwareStatusNotification, "
    "SignChargingStationCertificate, SignV2GCertificate, SignCombinedCertificate, "
    "PublishFirmwareStatusNotification (and the 2.1 additions)."
)


def _command(method: str, path: str, handler: Any, summary: str, **kw: Any) -> Endpoint:
    return Endpoint(
        method,
        _PREFIX + path,
        handler,
        Role.OPERATOR,
        summary,
        "devices",
        response=kw.pop("response", CommandReply),
        errors=_ERRORS,
        path_docs={**_DOCS, **kw.pop("path_docs", {})},
        **kw,
    )


ENDPOINTS = (
    _command(
        "POST",
        "/remote-start",
        remote_start,
        "Start a transaction remotely (RequestStartTransaction)",
        body=RemoteStart,
    ),
    _command(
        "POST",
        "/remote-stop",
        remote_stop,
        "Stop a transaction remotely (RequestStopTransaction)",
        body=RemoteStop,
    ),
    _command(
        "POST", "/reset", reset, "Reset (Immediate by default)", body=ResetBody, body_required=False
    ),
    _command(
        "POST",
        "/trigger/{message}",
        trigger,
        "Ask the station to send a message (TriggerMessage)",
        body=TriggerBody,
        body_required=False,
        path_docs={"message": _TRIGGER_DOC},
    ),
    _command("POST", "/unlock", unlock, "Unlock a connector (UnlockConnector)", body=UnlockBody),
    _command(
        "POST",
        "/availability",
        availability,
        "Change the availability of the station, an EVSE or a connector (ChangeAvailability)",
        body=AvailabilityBody,
    ),
    _command(
        "POST",
        "/charging-profile",
        set_charging_profile,
        "Install a charging profile (SetChargingProfile)",
        body=ChargingProfileBody,
    ),
    _command(
        "DELETE",
        "/charging-profile",
        clear_charging_profile,
        "Clear charging profiles by id or by criteria (ClearChargingProfile)",
        query=(
            Param("chargingProfileId", int, "The profile to clear."),
            Param("evseId", int, "Criteria: EVSE (0 = station).", minimum=0),
            Param("purpose", description="Criteria: purpose.", enum=_PURPOSES),
            Param("stackLevel", int, "Criteria: stack level.", minimum=0),
        ),
    ),
    _command(
        "GET",
        "/charging-profiles",
        get_charging_profiles,
        "Ask for the installed charging profiles (GetChargingProfiles); they arrive as "
        "ReportChargingProfiles events",
        query=(
            Param("requestId", int, "Generated when absent.", minimum=0, maximum=2**31 - 1),
            Param("evseId", int, "EVSE (0 = station).", minimum=0),
            Param("purpose", description="Only this purpose.", enum=_PURPOSES),
            Param("stackLevel", int, "Only this stack level.", minimum=0),
            Param("chargingProfileId", int, "Only this profile."),
        ),
    ),
    _command(
        "GET",
        "/variables",
        get_variables,
        "Read one variable live from the station (GetVariables)",
        query=(
            Param("component", description="Component name.", required=True),
            Param("variable", description="Variable name.", required=True),
            Param("componentInstance", description="Component instance."),
            Param("variableInstance", description="Variable instance."),
            Param("evseId", int, "EVSE of the component.", minimum=0),
            Param("connectorId", int, "Connector of the component (needs evseId).", minimum=1),
            Param(
                "attributeType",
                description="Attribute (Actual by default).",
                enum=("Actual", "Target", "MinSet", "MaxSet"),
            ),
        ),
    ),
    _command(
        "POST",
        "/variables",
        set_variables,
        "Set variables (SetVariables)",
        body=SetVariablesBody,
    ),
    _command(
        "POST",
        "/ocpp/{action}",
        generic,
        "Send any CSMS-initiated OCPP action; the body is its request payload as on the wire",
        raw_body=True,
        response=None,
        path_docs={"action": "The OCPP action, e.g. Reset, GetBaseReport, DataTransfer."},
        description=(
            "The reply is the station's response payload exactly as on the wire; the audited "
            "command's id is in the `X-Command-Id` header. A CALLERROR is 502 `station_error` "
            "with `ocppCode`, `description` and `details`."
        ),
    ),
)
