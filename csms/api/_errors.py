"""The API's errors, written out once. Each maps to one HTTP status and a stable ``code``.

::

    ApiError(Exception)
    ├── BadRequest(ApiError, ValueError)        400 bad_request       (malformed JSON)
    ├── Unauthorized(ApiError)                  401 unauthorized      (missing or unknown token)
    ├── Forbidden(ApiError)                     403 forbidden         (the token's role is too weak)
    ├── NotFound(ApiError, LookupError)         404 not_found
    ├── MethodNotAllowed(ApiError)              405 method_not_allowed
    ├── Conflict(ApiError)                      409 conflict, station_disconnected, not_allowed
    ├── InvalidBody(ApiError, ValueError)       422 invalid_body, invalid_command (names ``field``)
    ├── StationFailed(ApiError)                 502 station_error (the station's CALLERROR)
    ├── Unavailable(ApiError)                   503 unavailable (the node is stopping or not ready),
    │                                               password_not_stored (a write failed),
    │                                               database_unavailable (PostgreSQL unreachable)
    └── GatewayTimeout(ApiError, TimeoutError)  504 station_timeout

Every error body is ``{"error": {"code": ..., "message": ...}}``, plus ``field`` for 422 and the
OCPP error (``ocppCode``, ``description``, ``details``) for 502.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GatewayTimeout",
    "InvalidBody",
    "MethodNotAllowed",
    "NotFound",
    "StationFailed",
    "Unauthorized",
    "Unavailable",
]


class ApiError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra: Mapping[str, Any] = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadRequest(ApiError, ValueError):
    status = 400
    default_code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    default_code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    default_code = "forbidden"


class NotFound(ApiError, LookupError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    default_code = "method_not_allowed"


class Conflict(ApiError):
    status = 409
    default_code = "conflict"


class InvalidBody(ApiError, ValueError):
    status = 422
    default_code = "invalid_body"

    def __init__(self, message: str, *, field: str, code: str | None = None) -> None:
        super().__init__(message, code=code, field=field)
        self.field = field


class StationFailed(ApiError):
    status = 502
    default_code = "station_error"


class Unavailable(ApiError):
    status = 503
    default_code = "unavailable"


class GatewayTimeout(ApiError, TimeoutError):
    status = 504
    default_code = "station_timeout"
