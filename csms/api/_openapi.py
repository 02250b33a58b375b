"""The OpenAPI 3.1 document, built from the endpoint table (so it cannot drift from the routes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._routing import Endpoint, Param
from ._schema import json_schema

__all__ = ["ERROR_SCHEMA", "openapi_document"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error: a stable `code` and a human `message`; `field` names the bad "
    "field of a 422 (a dotted path; empty for the body as a whole); a 502 carries the "
    "station's CALLERROR (`ocppCode`, `description`, `details`).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "commandId": {"type": "string"},
                "ocppCode": {"type": "string"},
                "description": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}

_REASONS = {
    202: "Accepted, not done yet (the body says its state)",
    400: "Bad request",
    401: "Missing, unknown, expired or revoked token",
    403: "The token's role is too weak",
    404: "Not found",
    409: (
        "Conflict (exists, or the station is not connected: `station_disconnected`; with a"
        " `commandId` the command was sent and the station disconnected before answering: its"
        " outcome is unknown)"
    ),
    422: "Invalid body or query (`field` names it)",
    502: "The station answered with a CALLERROR (`station_error`)",
    503: "The node is stopping, not ready, or cannot reach its database (`database_unavailable`)",
    504: "The station did not answer in time (`station_timeout`)",
}

DESCRIPTION = """The control API of a csms node: stations, device commands, transactions, the
command audit, id tokens, users and their V2G preferences, health and metrics.

Authentication: `Authorization: Bearer <token>`. Tokens have a role (viewer < operator < admin)
and each operation names the role it needs. Errors are `{"error": {"code", "message"}}`.
"""


def _param_schema(param: Param) -> dict[str, Any]:
    kinds = {int: "integer", bool: "boolean"}
    schema: dict[str, Any] = {"type": kinds.get(param.kind, "string")}
    if param.kind.__name__ == "datetime":
        schema["format"] = "date-time"
    if param.kind is int:
        schema["minimum"], schema["maximum"] = param.bounds
    for key, value in (("pattern", param.effective_pattern),):
        if value is not None:
            schema[key] = value
    if param.enum is not None:
        schema["enum"] = list(param.enum)
    if param.default is not None:
        schema["default"] = param.default
    return schema


def _operation_id(ep: Endpoint) -> str:
    words = re.findall(r"[A-Za-z0-9]+", ep.path.replace("/api/v1", ""))
    return ep.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def _operation(ep: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    role = ep.role.label if ep.role is not None else "none (public)"
    op: dict[str, Any] = {
        "operationId": _operation_id(ep),
        "summary": ep.summary,
        "description": (ep.description + "\n\n" if ep.description else "") + f"Role: {role}.",
        "tags": [ep.tag],
        "x-role": ep.role.label if ep.role is not None else None,
        # what the body must also follow that its JSON Schema cannot state (a 422 names it)
        "x-body-rules": ep.body_rules or None,
        "security": [{"bearer": []}] if ep.role is not None else [],
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": ep.path_docs.get(name, ""),
            "schema": {"type": "string", "minLength": 1},
        }
        for name in re.findall(r"\{([^}]+)\}", ep.path)
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": _param_schema(p),
        }
        for p in ep.query
    ]
    if parameters:
        op["parameters"] = parameters
    if ep.body is not None or ep.raw_body:
        body_schema = {"type": "object"} if ep.raw_body else json_schema(ep.body, schemas)  # type: ignore[arg-type]
        op["requestBody"] = {
            "required": ep.body_required,
            "content": {"application/json": {"schema": body_schema}},
        }
    if ep.upload_media is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                ep.upload_media: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            },
        }
    ok: dict[str, Any] = {"description": "Success"}
    if ep.ok != 204:
        if ep.response is not None:
            media_schema = json_schema(ep.response, schemas)
        elif ep.response_media == "application/json":
            media_schema = {"type": "object"}
        else:
            media_schema = {"type": "string"}
        ok["content"] = {ep.response_media: {"schema": media_schema}}
        for media in ep.more_media:  # another representation a query asks for (CSV)
            ok["content"][media] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {str(ep.ok): ok}
    codes = set(ep.errors)
    if ep.role is not None:  # a token is looked up, so the database may be unreachable: 503
        codes |= {401, 403, 503}
    if ep.body is not None or ep.raw_body or ep.query:
        codes.add(422)
    for code in sorted(codes):
        content: dict[str, Any] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        }
        # another success (202), or /readyz's 503: the operation's own body
        if ep.response is not None and (code < 400 or (code == 503 and ep.path == "/readyz")):
            content = {"application/json": {"schema": json_schema(ep.response, schemas)}}
        responses[str(code)] = {"description": _REASONS[code], "content": content}
    op["responses"] = responses
    if op["x-role"] is None:
        del op["x-role"]
    if op["x-body-rules"] is None:
        del op["x-body-rules"]
    return op


def openapi_document(endpoints: Iterable[Endpoint], *, version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "csms control API", "version": version, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (`csms token create --role R`) or "
                    "CSMS_ADMIN_TOKEN.",
                }
            },
        },
    }
