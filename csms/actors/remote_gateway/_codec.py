"""The wire form of a command sent to another node over NATS request/reply, and of its
answer: plain JSON, so that a ``CommandResult`` or the very ``CommandError`` the holding node
raised comes out of the remote gateway as it would out of the local one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from csms.commands import (
    CommandAbandoned,
    CommandError,
    CommandNotAllowed,
    CommandResult,
    InvalidCommand,
    StationCallError,
    StationDisconnected,
    StationFailed,
    StationNotConnected,
    StationTimeout,
)
from csms.protocol import Direction, Version, structure_payload

__all__ = ["decode_reply", "decode_request", "encode_error", "encode_request", "encode_result"]

#: Bumped on an incompatible change of these bodies; a node refuses another version.
WIRE_VERSION = 1

_ERRORS: Mapping[str, type[CommandError]] = {
    cls.code: cls
    for cls in (
        CommandAbandoned,
        CommandNotAllowed,
        StationDisconnected,
        StationTimeout,
        StationFailed,
        CommandError,
    )
}


def encode_request(
    action: str, payload: Mapping[str, Any], *, requested_by: str, timeout: float, origin: str
) -> bytes:
    """``timeout``: seconds left of the caller's deadline (the clocks of two nodes differ; what
    is left does not)."""
    body = {
        "v": WIRE_VERSION,
        "action": action,
        "payload": dict(payload),
        "requestedBy": requested_by,
        "timeout": timeout,
        "origin": origin,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_request(data: bytes) -> dict[str, Any]:
    body = json.loads(data)
    if not isinstance(body, dict) or body.get("v") != WIRE_VERSION:
        raise ValueError("not a command request of this version")
    return body


def encode_result(result: CommandResult, version: str) -> bytes:
    body = {
        "ok": True,
        "commandId": result.command_id,
        "action": result.action,
        "response": dict(result.response),
        "version": version,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def encode_error(exc: CommandError) -> bytes:
    body: dict[str, Any] = {
        "ok": False,
        "code": exc.code,
        "message": str(exc),
        "commandId": exc.command_id,
        "notConnected": isinstance(exc, StationNotConnected),
    }
    if isinstance(exc, InvalidCommand):
        body["field"] = exc.field
    if isinstance(exc, StationCallError):
        body |= {
            "ocppCode": exc.ocpp_code,
            "description": exc.description,
            "details": dict(exc.details),
        }
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def decode_reply(data: bytes) -> CommandResult:
    """The holding node's answer: the result, or its error raised."""
    body = json.loads(data)
    if body.get("ok"):
        version = Version(body["version"])
        message = structure_payload(
            version, body["action"], Direction.RESPONSE, body["response"], validate=False
        )
        return CommandResult(body["commandId"], body["action"], body["response"], message)
    code, text, command_id = body.get("code"), body.get("message", ""), body.get("commandId")
    if code == InvalidCommand.code:
        raise InvalidCommand(text, field=body.get("field"))
    if code == StationCallError.code:
        raise StationCallError(
            text,
            ocpp_code=body.get("ocppCode", ""),
            description=body.get("description", ""),
            details=body.get("details") or {},
            command_id=command_id,
        )
    if body.get("notConnected"):
        raise StationNotConnected(text, command_id=command_id)
    raise _ERRORS.get(code or "", CommandError)(text, command_id=command_id)
