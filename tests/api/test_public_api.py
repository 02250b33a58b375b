"""The control API's public names are a contract: adding or removing one is a deliberate change."""

import csms.api
from csms.api import GatewayTimeout, InvalidBody, NotFound

from ..public_names import exported


def test_public_names_are_pinned():
    assert exported(csms.api) == [
        "ADMIN_TOKEN_ENV",
        "API_VERSION",
        "ApiError",
        "ApiState",
        "Authenticator",
        "BOOTSTRAP_NAME",
        "BadRequest",
        "CalculatedInterval",
        "Calculation",
        "CampaignSpec",
        "Conflict",
        "ControlPlane",
        "DRAIN_GRACE",
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


def test_errors_subclass_the_matching_builtins():
    assert issubclass(InvalidBody, ValueError)
    assert issubclass(NotFound, LookupError)
    assert issubclass(GatewayTimeout, TimeoutError)
