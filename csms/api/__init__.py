"""The HTTP control API (SPEC section 10): an ASGI application over a running node.

``create_app(node)`` builds it; ``csms.actors.http_control`` serves it with hypercorn on trio.
Every endpoint is declared once (``endpoints()``), with the role it needs, and the OpenAPI
document at ``/openapi.json`` is built from the same table. Errors: see ``_errors``.
"""

from ._app import API_VERSION, create_app, endpoints
from ._auth import BOOTSTRAP_NAME, Authenticator, Principal, Role, hash_token
from ._errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    GatewayTimeout,
    InvalidBody,
    NotFound,
    StationFailed,
    Unauthorized,
    Unavailable,
)
from ._metrics import Metrics
from ._routing import ApiState, Endpoint, Param
from .tokens import create_token, revoke_token

__all__ = [
    "API_VERSION",
    "BOOTSTRAP_NAME",
    "ApiError",
    "ApiState",
    "Authenticator",
    "BadRequest",
    "Conflict",
    "Endpoint",
    "Forbidden",
    "GatewayTimeout",
    "InvalidBody",
    "Metrics",
    "NotFound",
    "Param",
    "Principal",
    "Role",
    "StationFailed",
    "Unauthorized",
    "Unavailable",
    "create_app",
    "create_token",
    "endpoints",
    "hash_token",
    "revoke_token",
]
