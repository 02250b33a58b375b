"""Request and response bodies of the control API (camelCase on the wire; see ``_schema``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs

from ._schema import spec
from ._v2g_bodies import USER_ID_PATTERN

#: Station ids the API accepts: 1-48 printable ASCII characters, no ``:`` (OCPP-J Basic auth)
#: and no ``/`` (it is a URL path segment).
STATION_ID_PATTERN = r"^[!-.0-9;-~]{1,48}$"
#: Part 2 passwordString, 16-40 characters (A00.FR.205); the same rule as the OCPP listener's.
PASSWORD_PATTERN = r"^[A-Za-z0-9*\-_=:+|@.]{16,40}$"
REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")
AUTHORIZATION_STATUSES = (
    "Accepted",
    "Blocked",
    "ConcurrentTx",
    "Expired",
    "Invalid",
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
    "Unknown",
)
ROLES = ("admin", "operator", "viewer")

# -- stations ---------------------------------------------------------------------------------


@attrs.frozen
class StationRegistration:
    """A station to register. The password is the Basic-auth password the station will present
    (16-40 characters of OCPP's passwordString alphabet); it is stored only as a salted hash.
    Security profile 3 (client certificates) needs no password."""

    __api_schema__: ClassVar = {
        "if": {"properties": {"securityProfile": {"const": 3}}, "required": ["securityProfile"]},
        "else": {"required": ["password"], "properties": {"password": {"type": "string"}}},
    }

    id: str = spec(pattern=STATION_ID_PATTERN, example="CP001")
    password: str | None = spec(
        None, pattern=PASSWORD_PATTERN, example="s3cret-Password-0123", code="weak_password"
    )
    security_profile: int = spec(1, minimum=1, maximum=3)
    registration_status: str = spec("Accepted", enum=REGISTRATION_STATUSES)
    bidirectional: bool = spec(
        False,
        description="The station can discharge an EV (V2G). OCPP 2.1 stations say so in their"
        " device model; for OCPP 2.0.1 this declaration is the only way (docs/V2G.md).",
    )


@attrs.frozen
class StationUpdate:
    """The registration status answered to the station's next BootNotification."""

    registration_status: str = spec(enum=REGISTRATION_STATUSES)


@attrs.frozen
class Station:
    """A registered station. ``connected`` and ``nodeId`` say which node holds its socket."""

    id: str
    security_profile: int
    registration_status: str
    connected: bool
    node_id: str | None
    connected_since: dt.datetime | None
    last_seen_at: dt.datetime | None
    ocpp_version: str | None
    vendor_name: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    last_boot_at: dt.datetime | None
    last_boot_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: The live state, when this node holds the connection (``GET /stations/{id}`` only).
    live: dict[str, Any] | None = None
    #: Declared able to discharge an EV (``bidirectional`` at registration).
    bidirectional: bool = False


@attrs.frozen
class StationPage:
    items: list[Station]
    next: str | None = spec(description="Pass as `after` for the next page; null on the last.")


@attrs.frozen
class NewPassword:
    """The new Basic-auth password, shown once. The station must be given it (SetVariables
    ``SecurityCtrlr.BasicAuthPassword``) before its next connection."""

    password: str


# -- commands ---------------------------------------------------------------------------------


@attrs.frozen
class RemoteStart:
    """RequestStartTransaction: ``idToken`` (of ``idTokenType``) on ``evseId``; the remoteStartId
    is generated unless given."""

    id_token: str = spec(min_length=1, max_length=255, example="TAG1")
    id_token_type: str = spec("Central", min_length=1, max_length=20)
    evse_id: int | None = spec(None, minimum=1)
    remote_start_id: int | None = spec(None, minimum=0, maximum=2**31 - 1)
    charging_profile: dict[str, Any] | None = spec(
        None, description="An OCPP ChargingProfileType (purpose TxProfile), as on the wire."
    )


@attrs.frozen
class RemoteStop:
    """RequestStopTransaction."""

    transaction_id: str = spec(min_length=1, max_length=36)


@attrs.frozen
class ResetBody:
    """Reset the station (or one EVSE)."""

    type: str = spec("Immediate", enum=("Immediate", "OnIdle"))
    evse_id: int | None = spec(None, minimum=0)


@attrs.frozen
class TriggerBody:
    """Where the triggered message is about (optional)."""

    evse_id: int | None = spec(None, minimum=0)
    connector_id: int | None = spec(None, minimum=1, description="Needs `evseId`.")


@attrs.frozen
class UnlockBody:
    """UnlockConnector."""

    evse_id: int = spec(minimum=1)
    connector_id: int = spec(minimum=1)


@attrs.frozen
class AvailabilityBody:
    """ChangeAvailability of the station, an EVSE, or one connector of an EVSE."""

    operational_status: str = spec(enum=("Operative", "Inoperative"))
    evse_id: int | None = spec(None, minimum=0)
    connector_id: int | None = spec(None, minimum=1, description="Needs `evseId`.")


@attrs.frozen
class ChargingProfileBody:
    """SetChargingProfile on ``evseId`` (0: the whole station)."""

    evse_id: int = spec(minimum=0)
    charging_profile: dict[str, Any] = spec(
        description="An OCPP ChargingProfileType, exactly as on the wire."
    )


@attrs.frozen
class VariableSetting:
    component: str = spec(min_length=1, max_length=50, example="OCPPCommCtrlr")
    variable: str = spec(min_length=1, max_length=50, example="HeartbeatInterval")
    value: str = spec(max_length=1000, example="60")
    component_instance: str | None = spec(None, min_length=1, max_length=50)
    variable_instance: str | None = spec(None, min_length=1, max_length=50)
    evse_id: int | None = spec(None, minimum=0)
    connector_id: int | None = spec(None, minimum=1)
    attribute_type: str | None = spec(None, enum=("Actual", "Target", "MinSet", "MaxSet"))


@attrs.frozen
class SetVariablesBody:
    """SetVariables: one entry per variable."""

    variables: list[VariableSetting] = spec(min_length=1)


@attrs.frozen
class CommandReply:
    """A command the station answered: what was sent and what it said."""

    command_id: str
    action: str
    request: dict[str, Any]
    response: dict[str, Any]


# -- audit, transactions, id tokens ------------------------------------------------------------


@attrs.frozen
class Command:
    """One CSMS-to-station call as audited."""

    id: str
    station_id: str
    action: str
    requested_by: str
    node_id: str | None
    message_id: str | None
    status: str  # pending, sent, responded, error, timeout, failed, abandoned (never sent)
    payload: dict[str, Any]
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None
    requested_at: dt.datetime
    sent_at: dt.datetime | None
    completed_at: dt.datetime | None


@attrs.frozen
class CommandPage:
    items: list[Command]
    next: str | None


@attrs.frozen
class Transaction:
    station_id: str
    transaction_id: str
    state: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    charging_state: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    stopped_reason: str | None
    last_seq_no: int


@attrs.frozen
class TransactionPage:
    items: list[Transaction]
    next: str | None


@attrs.frozen
class MeterReading:
    """One sampled value, scaled by its multiplier (Wh, W, percent, ...)."""

    timestamp: dt.datetime
    evse_id: int
    measurand: str
    phase: str | None
    location: str | None
    context: str | None
    unit: str | None
    value: float


@attrs.frozen
class TransactionEvent:
    seq_no: int
    event_type: str
    timestamp: dt.datetime
    trigger_reason: str
    offline: bool


@attrs.frozen
class TransactionDetail:
    transaction: Transaction
    events: list[TransactionEvent]
    meter_values: list[MeterReading]


@attrs.frozen
class IdTokenBody:
    """An id token and its IdTokenInfo (OCPP names): ``status``, ``cacheExpiryDateTime`` (after
    it Authorize answers Expired) and ``groupIdToken`` (the group's idToken, type Central)."""

    id_token: str = spec(pattern=r"^[!-~]{1,255}$", example="TAG1")
    type: str = spec(pattern=r"^[A-Za-z0-9]{1,20}$", example="ISO14443")
    status: str = spec("Accepted", enum=AUTHORIZATION_STATUSES)
    cache_expiry_date_time: dt.datetime | None = spec(None)
    group_id_token: str | None = spec(None, pattern=r"^[!-~]{1,255}$")
    user_id: str | None = spec(
        None, pattern=USER_ID_PATTERN, description="The user owning the token (must exist)."
    )


@attrs.frozen
class IdTokenUpdate:
    """The IdTokenInfo of an existing id token."""

    status: str = spec(enum=AUTHORIZATION_STATUSES)
    cache_expiry_date_time: dt.datetime | None = spec(None)
    group_id_token: str | None = spec(None, pattern=r"^[!-~]{1,255}$")


@attrs.frozen
class IdToken:
    id_token: str
    type: str
    status: str
    cache_expiry_date_time: dt.datetime | None
    group_id_token: str | None
    user_id: str | None = None


@attrs.frozen
class IdTokenList:
    items: list[IdToken]


@attrs.frozen
class Health:
    status: str
    checks: dict[str, Any]
    #: With NATS on (/readyz): ``events`` (the mirror) and ``commands`` (commands between
    #: nodes) connected; informative, never a 503: a node charges without NATS (docs/NATS.md).
    nats: dict[str, Any] | None = None
