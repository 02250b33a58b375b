"""The ASGI application: every endpoint of the table, JSON errors for unknown paths and methods,
and the OpenAPI document at ``/openapi.json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csms.storage import tokens as token_repo

from . import (
    _audit,
    _certificate_commands,
    _certificates,
    _compensation,
    _devices,
    _firmware,
    _firmware_campaigns,
    _firmware_images,
    _grid_price,
    _health,
    _id_tokens,
    _optimize,
    _payouts,
    _stations,
    _transactions,
    _users,
    _v2g,
    _v2g_discharge,
    _v2g_reports,
)
from ._auth import Authenticator
from ._dispatch import FastRoutes, RouteTable
from ._errors import ApiError, BadRequest, MethodNotAllowed, NotFound
from ._metrics import Metrics
from ._openapi import openapi_document
from ._routing import ApiState, Call, Endpoint, asgi_endpoint, error_response, json_response
from .dashboard import dashboard_routes

if TYPE_CHECKING:
    from ._control import ControlPlane

__all__ = ["API_VERSION", "create_app", "endpoints"]

API_VERSION = "1.0.0"


async def _openapi(call: Call) -> Response:
    return json_response(call.request.app.state.openapi)


def endpoints() -> tuple[Endpoint, ...]:
    """Every endpoint of the API, the OpenAPI document's own included."""
    return (
        *_stations.ENDPOINTS,
        *_devices.ENDPOINTS,
        *_transactions.ENDPOINTS,
        *_audit.ENDPOINTS,
        *_id_tokens.ENDPOINTS,
        *_users.ENDPOINTS,
        *_v2g.ENDPOINTS,
        *_v2g_discharge.ENDPOINTS,
        *_firmware.ENDPOINTS,
        *_firmware_campaigns.ENDPOINTS,
        *_firmware_images.ENDPOINTS,
        *_certificates.ENDPOINTS,
        *_certificate_commands.ENDPOINTS,
        *_grid_price.ENDPOINTS,
        *_compensation.ENDPOINTS,
        *_payouts.ENDPOINTS,
        *_v2g_reports.ENDPOINTS,
        *_optimize.ENDPOINTS,
        *_health.ENDPOINTS,
        Endpoint("GET", "/openapi.json", _openapi, None, "This document", "health", response=None),
    )


def _lookup(control: ControlPlane) -> Any:
    async def lookup(digest: str) -> tuple[str, str] | None:
        row = await control.database.run(token_repo.api_token_by_hash, digest)
        if row is None:
            return None
        await control.database.run(token_repo.touch_api_token, row.id)
        return row.name, row.role

    return lookup


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: ApiError
    if exc.status_code == 404:
        error = NotFound(f"no route {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    else:
        error = BadRequest(str(exc.detail))
    return error_response(error)


class ControlApp(Starlette):
    """Starlette with the route table in front (``_dispatch``): a request that matches one
    route exactly goes straight to it; the rest takes Starlette's usual way."""

    def __init__(self, table: RouteTable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table

    def build_middleware_stack(self) -> Any:
        return FastRoutes(self.table, super().build_middleware_stack())


def create_app(
    control: ControlPlane,
    *,
    admin_token: str | None = None,
    metrics: Metrics | None = None,
    token_cache_seconds: float = 5.0,
) -> Starlette:
    """The control API of ``control``; its ``ApiState`` is ``app.state.api``. The operator's
    dashboard is served beside it, at ``/`` (``app.state.dashboard``)."""
    auth = Authenticator(
        _lookup(control), admin_token=admin_token, cache_seconds=token_cache_seconds
    )
    state = ApiState(control, auth, metrics)
    table = endpoints()
    handlers = [(ep.method, ep.path, asgi_endpoint(ep, state)) for ep in table]
    dashboard, pages = dashboard_routes(state, admin_token=admin_token)
    app = ControlApp(
        RouteTable(handlers),
        routes=[
            *(Route(path, handler, methods=[method]) for method, path, handler in handlers),
            pages,
        ],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.api = state
    app.state.dashboard = dashboard
    app.state.openapi = openapi_document(table, version=API_VERSION)
    return app
