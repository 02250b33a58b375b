"""How the simulated charge point answers each CSMS command (pure): the response payload and
the effects the actor carries out afterwards (messages to send, a reboot, a firmware update).

Commands the simulator does not act on still get a valid answer: the smallest payload the
official response schema allows, with status ``Accepted`` where there is one.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

import attrs

from csms.protocol import Version

from . import _v2x
from ._ev import profile_watts
from ._model import ChargePoint, Outgoing, SimulationError

__all__ = [
    "ChangeHeartbeat",
    "Effect",
    "Reboot",
    "RunFirmwareUpdate",
    "SendMessages",
    "answer",
    "default_response",
    "profile_watts",
]


@attrs.frozen
class SendMessages:
    messages: tuple[Outgoing, ...]


@attrs.frozen
class Reboot:
    reason: str  # BootReasonEnumType of the next BootNotification


@attrs.frozen
class RunFirmwareUpdate:
    request_id: int
    #: the UpdateFirmwareRequest (location, signature, retries: csms/simulator/_firmware.py)
    request: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen
class ChangeHeartbeat:
    seconds: float


Effect = SendMessages | Reboot | RunFirmwareUpdate | ChangeHeartbeat
Answer = tuple[dict[str, Any], list[Effect]]
Handler = Callable[[ChargePoint, dict[str, Any], datetime.datetime], Answer]

_FOLDERS: Final = {Version.V201: "v201", Version.V21: "v21"}


@functools.cache
def _schema(version: Version, name: str) -> dict[str, Any]:
    path = resources.files("ocpp") / _FOLDERS[version] / "schemas" / f"{name}.json"
    schema: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return schema


def default_response(version: Version, action: str) -> dict[str, Any]:
    """The smallest valid response to ``action`` (status Accepted where the schema has one)."""
    schema = _schema(version, f"{action}Response")
    value = _minimal(schema, schema.get("definitions", {}))
    assert isinstance(value, dict)
    return value


def _minimal(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _minimal(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        choices = schema["enum"]
        for preferred in ("Accepted", "UnknownVendorId"):
            if preferred in choices:
                return preferred
        return choices[0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _minimal(props[name], defs) for name in schema.get("required", [])}
    if kind == "array":
        return [_minimal(schema["items"], defs) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        return "x" * schema.get("minLength", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def answer(
    cp: ChargePoint, version: Version, action: str, request: dict[str, Any], now: datetime.datetime
) -> Answer:
    """The response to a CSMS ``action`` and what to do once it is sent."""
    handler = _HANDLERS.get(action)
    if handler is None:
        return default_response(version, action), []
    return handler(cp, request, now)


def _request_start(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    evse_id = req.get("evseId") or next((e.id for e in cp.evses if e.tx_id is None), 1)
    try:
        evse = cp.evse(evse_id)
        profile = req.get("chargingProfile")
        if profile is not None:
            _v2x.install(cp, evse.id, profile, now)
        messages = cp.start(
            evse.id, now, id_token=req["idToken"], remote_start_id=req["remoteStartId"]
        )
        # A V2X EV announces its needs; the CSMS authorized it, without an allowed list (Q02)
        messages += _v2x.plugged_in(cp, evse, now, None)
    except SimulationError:
        return {"status": "Rejected"}, []
    return {"status": "Accepted", "transactionId": evse.tx_id}, [SendMessages(tuple(messages))]


def _request_stop(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    evse = cp.by_transaction(req["transactionId"])
    if evse is None:
        return {"status": "Rejected"}, []
    messages = cp.stop(evse.id, now, reason="Remote", trigger="RemoteStop")
    return {"status": "Accepted"}, [SendMessages(tuple(messages))]


def _reset(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    if req.get("evseId"):
        return {"status": "Rejected"}, []  # EVSE-level reset is optional (B11.FR.05)
    if req["type"] == "OnIdle" and cp.charging():
        cp.reset_pending = True  # B11.FR.01: reboot once the transactions have ended
        return {"status": "Scheduled"}, []
    return {"status": "Accepted"}, [Reboot("RemoteReset")]


def _update_firmware(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    from ._firmware import answer_update  # it builds on this module's effects

    return answer_update(cp, req)


def _get_variables(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    results = []
    for item in req["getVariableData"]:
        component, variable = item["component"]["name"], item["variable"]["name"]
        value = cp.device.get(component, variable)
        result: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
        if item.get("attributeType", "Actual") != "Actual" and value is not None:
            result["attributeStatus"] = "NotSupportedAttributeType"
        elif value is None:
            known = any(c == component for c, _ in cp.device.values)
            result["attributeStatus"] = "UnknownVariable" if known else "UnknownComponent"
        else:
            result["attributeStatus"] = "Accepted"
            result["attributeValue"] = value
        results.append(result)
    return {"getVariableResult": results}, []


def _set_variables(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    results, effects = [], []
    for item in req["setVariableData"]:
        component, variable = item["component"]["name"], item["variable"]["name"]
        status = cp.device.set(component, variable, str(item["attributeValue"]))
        results.append(
            {
                "attributeStatus": status,
                "component": item["component"],
                "variable": item["variable"],
            }
        )
        if status == "Accepted" and variable == "HeartbeatInterval":
            effects.append(ChangeHeartbeat(float(item["attributeValue"])))
    return {"setVariableResult": results}, list(effects)


def _trigger(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    what = req["requestedMessage"]
    evse_ids = [req["evse"]["id"]] if req.get("evse", {}).get("id") else [e.id for e in cp.evses]
    try:
        evses = [cp.evse(i) for i in evse_ids]
    except SimulationError:
        return {"status": "Rejected"}, []
    messages: list[Outgoing] = []
    if what == "BootNotification":
        cp.boot_reason = "Triggered"
        messages.append(cp.boot())
    elif what == "Heartbeat":
        messages.append(Outgoing("Heartbeat", {}))
    elif what == "StatusNotification":
        messages += [cp.status(e, now) for e in evses]
    elif what == "MeterValues":
        messages += [cp.meter_values(e, now, "Trigger") for e in evses]
    elif what == "TransactionEvent":
        charging = [e for e in evses if e.tx_id is not None]
        for evse in charging:
            messages.append(
                cp.transaction_event(
                    evse, "Updated", "Trigger", now, offline=False, context="Trigger"
                )
            )
    elif what == "FirmwareStatusNotification":
        messages.append(Outgoing("FirmwareStatusNotification", {"status": "Idle"}))
    else:
        return {"status": "NotImplemented"}, []
    return {"status": "Accepted"}, [SendMessages(tuple(messages))]


def _change_availability(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    status = "Available" if req["operationalStatus"] == "Operative" else "Unavailable"
    evse_id = (req.get("evse") or {}).get("id", 0)
    targets = cp.evses if evse_id == 0 else [e for e in cp.evses if e.id == evse_id]
    if not targets:
        return {"status": "Rejected"}, []
    if any(e.tx_id is not None for e in targets):
        return {"status": "Scheduled"}, []
    messages = []
    for evse in targets:
        evse.status = status
        messages.append(cp.status(evse, now))
    return {"status": "Accepted"}, [SendMessages(tuple(messages))]


def _sending(handler: Callable[..., tuple[dict[str, Any], list[Outgoing]]]) -> Handler:
    """A handler of `_v2x` (payload, messages) as one of these (payload, effects)."""

    def run(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
        payload, messages = handler(cp, req, now)
        return payload, [SendMessages(tuple(messages))] if messages else []

    return run


_HANDLERS: Final[dict[str, Handler]] = {
    "RequestStartTransaction": _request_start,
    "RequestStopTransaction": _request_stop,
    "Reset": _reset,
    "UpdateFirmware": _update_firmware,
    "SetChargingProfile": _sending(_v2x.set_profile),
    "ClearChargingProfile": _sending(_v2x.clear_profile),
    "UpdateDynamicSchedule": _sending(_v2x.update_dynamic_schedule),
    "NotifyAllowedEnergyTransfer": _sending(_v2x.notify_allowed_energy_transfer),
    "GetVariables": _get_variables,
    "SetVariables": _set_variables,
    "TriggerMessage": _trigger,
    "ChangeAvailability": _change_availability,
}
