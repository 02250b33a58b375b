"""The station page's command forms: each builds the OCPP payload the REST API's command would
and sends it through the node's command gateway (``send_command``, the same errors: unknown
station, not connected, no answer in time, CALLERROR). The answer, or the error, is shown in
place of the form's result box; the command is audited as any other, requested by the token's
name."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from .._auth import Role
from .._errors import ApiError, InvalidBody
from .._routing import Call
from .._send import send_command
from ._core import Dashboard, Page, form_page

__all__ = ["COMMANDS", "TRIGGER_MESSAGES", "command_routes"]

#: What the trigger form offers (MessageTriggerEnumType of 2.0.1).
TRIGGER_MESSAGES = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "TransactionEvent",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "PublishFirmwareStatusNotification",
)


def _int(form: dict[str, str], name: str, *, required: bool = True, low: int = 0) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            raise InvalidBody("is required", field=name)
        return None
    if not raw.isdigit() or len(raw) > 9 or int(raw) < low:
        raise InvalidBody(f"must be a whole number from {low}", field=name)
    return int(raw)


def _choice(form: dict[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = form.get(name, "")
    if value not in allowed:
        raise InvalidBody(f"must be one of {', '.join(allowed)}", field=name)
    return value


def _text(form: dict[str, str], name: str, limit: int) -> str:
    value = form.get(name, "").strip()
    if not value or len(value) > limit or "\x00" in value:
        raise InvalidBody(f"must have 1 to {limit} characters", field=name)
    return value


def _evse(form: dict[str, str]) -> dict[str, int] | None:
    evse = _int(form, "evseId", required=False)
    if evse is None:
        return None
    connector = _int(form, "connectorId", required=False, low=1)
    return {"id": evse} if connector is None else {"id": evse, "connectorId": connector}


def _reset(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"type": _choice(form, "type", ("Immediate", "OnIdle"))}
    evse = _int(form, "evseId", required=False, low=1)
    if evse is not None:
        payload["evseId"] = evse
    return "Reset", payload


def _remote_start(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {
        "idToken": {"idToken": _text(form, "idToken", 36), "type": "Central"},
        "remoteStartId": secrets.randbelow(2**31 - 2) + 1,
    }
    evse = _int(form, "evseId", required=False, low=1)
    if evse is not None:
        payload["evseId"] = evse
    return "RequestStartTransaction", payload


def _remote_stop(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "RequestStopTransaction", {"transactionId": _text(form, "transactionId", 36)}


def _unlock(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return "UnlockConnector", {
        "evseId": _int(form, "evseId", low=1),
        "connectorId": _int(form, "connectorId", low=1),
    }


def _trigger(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"requestedMessage": _choice(form, "message", TRIGGER_MESSAGES)}
    evse = _evse(form)
    if evse is not None:
        payload["evse"] = evse
    return "TriggerMessage", payload


def _availability(form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {
        "operationalStatus": _choice(form, "status", ("Operative", "Inoperative"))
    }
    evse = _evse(form)
    if evse is not None:
        payload["evse"] = evse
    return "ChangeAvailability", payload


#: Form name -> the payload it builds (``InvalidBody`` naming the form field when it is wrong).
COMMANDS: dict[str, Callable[[dict[str, str]], tuple[str, dict[str, Any]]]] = {
    "reset": _reset,
    "remote-start": _remote_start,
    "remote-stop": _remote_stop,
    "unlock": _unlock,
    "trigger": _trigger,
    "availability": _availability,
}


def command_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    @form_page(dash, Role.OPERATOR)
    async def command(p: Page, form: dict[str, str]) -> Response:
        station_id = p.request.path_params["stationId"]
        build = COMMANDS.get(p.request.path_params["name"])
        if build is None:
            return p.problem(404, "Not found", "No such command.")
        action = ""
        try:
            action, payload = build(form)
            call = Call(p.request, dash.api, p.session.principal, {}, None)
            result = await send_command(call, station_id, action, payload)
        except ApiError as exc:
            body = exc.body()["error"]
            context = {"ok": False, "action": action, "error": body, "status": exc.status}
            # htmx swaps only 2xx answers: the fragment carries the error and its status
            if p.partial:
                return p.render("_command_result.html", station_id=station_id, **context)
            return p.render("command_result.html", exc.status, station_id=station_id, **context)
        context = {
            "ok": True,
            "action": action,
            "command_id": result.command_id,
            "response": dict(result.response),
        }
        template = "_command_result.html" if p.partial else "command_result.html"
        return p.render(template, station_id=station_id, **context)

    return [("POST", "/stations/{stationId}/commands/{name}", command)]
