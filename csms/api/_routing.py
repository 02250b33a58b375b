"""Endpoints as data: one table drives both the Starlette routes and the OpenAPI document.

Each ``Endpoint`` declares its role, query parameters and body class; ``asgi_endpoint`` wraps
its handler with authentication, parsing (422 naming the field), error bodies and counting.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import psycopg
import trio
from starlette.requests import Request
from starlette.responses import Response

from ._auth import Authenticator, Principal, Role
from ._errors import ApiError, InvalidBody, Unauthorized, Unavailable
from ._metrics import Metrics
from ._schema import parse_datetime, structure, unstructure

if TYPE_CHECKING:
    from ._control import ControlPlane

__all__ = ["ApiState", "Call", "Endpoint", "Param", "asgi_endpoint", "json_response"]

log = logging.getLogger("csms.api")


@attrs.frozen
class Param:
    """A query parameter."""

    name: str
    kind: type = str
    description: str = ""
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    default: Any = None

    @property
    def bounds(self) -> tuple[int, int]:
        """OCPP integers are 32-bit."""
        low = self.minimum if self.minimum is not None else -(2**31)
        high = self.maximum if self.maximum is not None else 2**31 - 1
        return low, high

    @property
    def effective_pattern(self) -> str | None:
        """Free text still excludes NUL, which PostgreSQL text cannot hold."""
        if self.kind is not str or self.enum is not None:
            return None
        return self.pattern or r"^[^\u0000]*$"

    def parse(self, raw: str) -> Any:
        if self.kind is int:
            if re.fullmatch(r"-?[0-9]{1,30}", raw) is None:
                raise InvalidBody("must be an integer", field=self.name)
            value: Any = int(raw)
            low, high = self.bounds
            if not low <= value <= high:
                raise InvalidBody(f"must be between {low} and {high}", field=self.name)
            return value
        if self.kind is bool:
            if raw not in ("true", "false"):
                raise InvalidBody("must be true or false", field=self.name)
            return raw == "true"
        if self.kind is dt.datetime:
            try:
                return parse_datetime(raw)
            except ValueError as exc:
                raise InvalidBody(str(exc), field=self.name) from None
        if self.enum is not None and raw not in self.enum:
            raise InvalidBody(f"must be one of {', '.join(self.enum)}", field=self.name)
        pattern = self.effective_pattern
        if pattern is not None and re.search(pattern, raw) is None:
            raise InvalidBody(f"must match {pattern}", field=self.name)
        return raw


@attrs.frozen
class Endpoint:
    method: str
    path: str  # Starlette/OpenAPI template, e.g. "/api/v1/stations/{stationId}"
    handler: Callable[[Call], Awaitable[Response]]
    role: Role | None  # None: public
    summary: str
    tag: str
    ok: int = 200
    body: type | None = None
    body_required: bool = True
    #: The body is free JSON (an OCPP payload checked elsewhere), documented as an object.
    raw_body: bool = False
    #: The body is bytes of this media type (a firmware image), read by the handler itself.
    upload_media: str | None = None
    response: type | None = None
    response_media: str = "application/json"
    #: Other media types of the success answer, chosen by a query parameter (``text/csv``).
    more_media: tuple[str, ...] = ()
    #: Rules of the body its JSON Schema cannot state (readings in rising time): a body valid
    #: by the schema may still be refused with a 422 naming the field.
    body_rules: str = ""
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    description: str = ""
    path_docs: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class ApiState:
    """What every request shares: the control plane, the authenticator, metrics, and the drain."""

    def __init__(
        self, control: ControlPlane, auth: Authenticator, metrics: Metrics | None = None
    ) -> None:
        self.control = control
        self.auth = auth
        self.metrics = metrics if metrics is not None else Metrics()
        self.stopping = False
        self._in_flight: set[trio.CancelScope] = set()

    def open_command(self, deadline: float) -> trio.CancelScope:
        """The cancel scope of one command: it ends at ``deadline``, or sooner once ``drain``
        runs. Enter it for the command, then hand it to ``close_command``."""
        if self.stopping:
            raise Unavailable("the node is stopping", code="shutting_down")
        scope = trio.CancelScope(deadline=deadline)
        self._in_flight.add(scope)
        return scope

    def close_command(self, scope: trio.CancelScope) -> None:
        self._in_flight.discard(scope)

    def drain(self, grace: float) -> None:
        """Refuse new commands; the ones in flight get ``grace`` seconds more, then 503."""
        self.stopping = True
        deadline = trio.current_time() + grace
        for scope in self._in_flight:
            scope.deadline = min(scope.deadline, deadline)


@attrs.define
class Call:
    """One request as a handler sees it."""

    request: Request
    state: ApiState
    principal: Principal | None
    query: dict[str, Any]
    body: Any

    @property
    def control(self) -> ControlPlane:
        return self.state.control

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    @property
    def requested_by(self) -> str:
        return self.principal.name if self.principal is not None else "anonymous"


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(unstructure(data)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(exc: ApiError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return Response(
        orjson.dumps(exc.body()),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )


async def _parse_body(ep: Endpoint, request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        if ep.body_required:
            raise InvalidBody("a JSON body is required", field="", code="invalid_json")
        raw = b"{}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"the body is not JSON: {exc}", field="", code="invalid_json") from None
    if ep.raw_body:
        if not isinstance(data, dict):
            raise InvalidBody("the body must be a JSON object", field="", code="invalid_json")
        return data
    assert ep.body is not None
    return structure(data, ep.body)


def _parse_query(ep: Endpoint, request: Request) -> dict[str, Any]:
    params = request.query_params
    query: dict[str, Any] = {}
    for param in ep.query:
        raw = params.get(param.name)
        if raw is None:
            if param.required:
                raise InvalidBody("this query parameter is required", field=param.name)
            query[param.name] = param.default
        else:
            query[param.name] = param.parse(raw)
    return query


def asgi_endpoint(ep: Endpoint, state: ApiState) -> Callable[[Request], Awaitable[Response]]:
    metrics = state.metrics
    auth = state.auth
    role = ep.role
    name = ep.path

    async def endpoint(request: Request) -> Response:
        try:
            principal = None
            if role is not None:
                principal = await auth.authenticate(request.headers.get("authorization"))
                auth.authorize(principal, role)
            query = _parse_query(ep, request) if ep.query else {}
            body = await _parse_body(ep, request) if (ep.body or ep.raw_body) else None
            response = await ep.handler(Call(request, state, principal, query, body))
        except ApiError as exc:
            response = error_response(exc)
        except psycopg.OperationalError as exc:
            # PostgreSQL stopped or unreachable: the operator's client should try again, not
            # read it as the node's own failure (the writes it asked for were not made)
            log.warning("database unavailable", extra={"route": ep.name, "error": str(exc)})
            response = error_response(
                Unavailable("the database is not reachable; try again", code="database_unavailable")
            )
        except Exception as exc:
            log.exception("request failed", extra={"route": ep.name, "error": repr(exc)})
            response = error_response(ApiError("the request failed; see the node's log"))
        metrics.inc(
            "csms_http_requests_total",
            route=name,
            method=ep.method,
            status=str(response.status_code),
        )
        return response

    return endpoint
