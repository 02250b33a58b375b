"""The HTTP control API (SPEC section 10): an ASGI application over a ``ControlPlane``.

``create_app(control)`` builds it; the ``HttpControlActor`` serves it with hypercorn on trio.
What the API needs from the node is the ``ControlPlane`` protocol it owns (``_control``); the
composition root (``csms.node``) fills it in. Nothing here imports ``csms.actors``.
Every endpoint is declared once (``endpoints()``), with the role it needs, and the OpenAPI
document at ``/openapi.json`` is built from the same table. Errors: see ``_errors``.
"""

from ._app import API_VERSION, create_app, endpoints
from ._auth import BOOTSTRAP_NAME, Authenticator, Principal, Role, hash_token
from ._compensation import CalculatedInterval, Calculation, MoneyControl, PayoutRunResult
from ._control import (
    ControlPlane,
    Database,
    DischargeStart,
    EventFeed,
    IdTokenStats,
    NodeStats,
    PersistenceStats,
    V2GControl,
)
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
from ._firmware_control import CampaignSpec, FirmwareControl, FirmwareUpdate
from ._metrics import Metrics
from ._routing import ApiState, Endpoint, Param
from ._server import ADMIN_TOKEN_ENV, DRAIN_GRACE, HttpControlActor
from .tokens import create_token, revoke_token

__all__ = [
    "ADMIN_TOKEN_ENV",
    "API_VERSION",
    "BOOTSTRAP_NAME",
    "DRAIN_GRACE",
    "ApiError",
    "ApiState",
    "Authenticator",
    "BadRequest",
    "CalculatedInterval",
    "Calculation",
    "CampaignSpec",
    "Conflict",
    "ControlPlane",
    "Database",
    "DischargeStart",
    "Endpoint",
    "EventFeed",
    "FirmwareControl",
    "FirmwareUpdate",
    "Forbidden",
    "GatewayTimeout",
    "HttpControlActor",
    "IdTokenStats",
    "InvalidBody",
    "Metrics",
    "MoneyControl",
    "NodeStats",
    "NotFound",
    "Param",
    "PayoutRunResult",
    "PersistenceStats",
    "Principal",
    "Role",
    "StationFailed",
    "Unauthorized",
    "Unavailable",
    "V2GControl",
    "create_app",
    "create_token",
    "endpoints",
    "hash_token",
    "revoke_token",
]
