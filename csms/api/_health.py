"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from starlette.responses import Response

from ._auth import Role
from ._metrics import render
from ._routing import Call, Endpoint, json_response
from .bodies import Health

__all__ = ["ENDPOINTS"]


async def healthz(call: Call) -> Response:
    return json_response(Health("ok", {}))


async def readyz(call: Call) -> Response:
    checks = {**call.control.readiness(), "accepting": not call.state.stopping}
    ready = all(checks.values())
    nats = call.control.stats().nats
    links = None  # NATS off
    if nats is not None:  # reported beside the checks, not among them: no 503 for NATS
        links = {
            "events": bool(nats.get("connected")),
            "commands": bool(nats.get("commands_connected")),
        }
    body = Health("ready" if ready else "not_ready", checks, links)
    return json_response(body, 200 if ready else 503)


async def metrics(call: Call) -> Response:
    return Response(
        render(call.control.stats(), call.state.metrics),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )


ENDPOINTS = (
    Endpoint("GET", "/healthz", healthz, None, "The process is alive", "health", response=Health),
    Endpoint(
        "GET",
        "/readyz",
        readyz,
        None,
        "Ready to serve: database reachable and OCPP listener up (503 otherwise); NATS, when on, "
        "reported in `nats` without gating",
        "health",
        response=Health,
        errors=(503,),
    ),
    Endpoint(
        "GET",
        "/metrics",
        metrics,
        Role.VIEWER,
        "Prometheus metrics (text exposition format 0.0.4)",
        "health",
        response=None,
        response_media="text/plain",
    ),
)
