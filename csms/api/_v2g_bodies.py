"""Bodies of the users and V2G preference and capability endpoints (camelCase on the wire).

The bounds of the preferences are the policy's (``csms.services.v2g_preferences``), written
into the schema so the OpenAPI document promises exactly what ``parse_preferences`` accepts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import attrs

from csms.services import v2g_preferences as policy

from ._schema import spec

__all__ = [
    "USER_ID_PATTERN",
    "Capability",
    "CapabilityList",
    "DischargeWindowBody",
    "User",
    "UserBody",
    "UserIdToken",
    "UserIdTokenBody",
    "UserPage",
    "V2GPreferencesBody",
    "V2GPreferencesView",
]

#: User ids: 1-64 printable ASCII characters, no space and no ``/`` (a URL path segment).
USER_ID_PATTERN = r"^[!-.0-~]{1,64}$"
ID_TOKEN_PATTERN = r"^[!-~]{1,255}$"
ID_TOKEN_TYPE_PATTERN = r"^[A-Za-z0-9]{1,20}$"
#: Local time of day, 00:00-23:59.
HHMM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_HHMM_SCHEMA = {"type": "string", "pattern": HHMM_PATTERN, "examples": ["18:00"]}


# -- users ------------------------------------------------------------------------------------


@attrs.frozen
class UserBody:
    """A user: the person behind id tokens, and the wallet compensation is paid to."""

    user_id: str = spec(pattern=USER_ID_PATTERN, example="maria")
    name: str = spec(pattern=r"^[^\u0000]{1,200}$", description="Display name.", example="Maria")
    wallet_id: str | None = spec(None, pattern=r"^[!-~]{1,255}$", example="wallet-7")


@attrs.frozen
class UserIdTokenBody:
    """An existing id token to link to the user (its value matched case-insensitively)."""

    id_token: str = spec(pattern=ID_TOKEN_PATTERN, example="TAG1")
    type: str = spec(pattern=ID_TOKEN_TYPE_PATTERN, example="ISO14443")


@attrs.frozen
class UserIdToken:
    id_token: str
    type: str


@attrs.frozen
class User:
    user_id: str
    name: str
    wallet_id: str | None
    id_tokens: list[UserIdToken]
    created_at: dt.datetime
    updated_at: dt.datetime


@attrs.frozen
class UserPage:
    items: list[User]
    next: str | None = spec(description="Pass as `after` for the next page; null on the last.")


# -- preferences ------------------------------------------------------------------------------


@attrs.frozen
class DischargeWindowBody:
    """Days of the week and a local start and end (setting ``v2g.time_zone``); an ``end`` at or
    before ``start`` crosses midnight and belongs to the start day (``Fri 22:00-06:00``)."""

    __api_schema__: ClassVar[dict[str, Any]] = {
        "properties": {
            "days": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(policy.DAY_NAMES)},
                "examples": [["Mon", "Fri"]],
            },
            "start": dict(_HHMM_SCHEMA),
            "end": dict(_HHMM_SCHEMA),
        }
    }

    days: list[str]
    start: str
    end: str


@attrs.frozen
class V2GPreferencesBody:
    """A user's V2G preferences (replacing earlier ones). Windows: none means any time."""

    user_id: str = spec(pattern=USER_ID_PATTERN, example="maria")
    opt_in: bool = spec(description="The user allows discharging their EV.")
    min_soc_percent: float = spec(
        minimum=int(policy.MIN_SOC_FLOOR),
        maximum=100,
        description="Discharge never takes the battery below this, %.",
        example=30,
    )
    max_discharge_kw: float = spec(
        exclusive_minimum=0, maximum=int(policy.MAX_DISCHARGE_KW), example=7.4
    )
    # spec() returns an attrs field, as in bodies.py
    windows: list[DischargeWindowBody] | None = spec(None, description="Any time.")  # noqa: RUF009
    max_cycles_per_day: int | None = spec(
        None, minimum=1, maximum=policy.MAX_CYCLES_PER_DAY, description="Default 1."
    )
    departure_energy_kwh: float | None = spec(
        None,
        exclusive_minimum=0,
        maximum=int(policy.MAX_DEPARTURE_KWH),
        description="Energy the EV must still hold at departure, kWh.",
    )
    departure_time: str | None = spec(
        None, pattern=HHMM_PATTERN, description="Default local departure time, HH:MM."
    )


@attrs.frozen
class V2GPreferencesView:
    """A user's V2G preferences as stored."""

    user_id: str
    opt_in: bool
    min_soc_percent: float
    max_discharge_kw: float
    windows: list[DischargeWindowBody]
    max_cycles_per_day: int
    departure_energy_kwh: float | None
    departure_time: str | None


# -- capability -------------------------------------------------------------------------------


@attrs.frozen
class Capability:
    """What an EV on an EVSE of the station can do, as last announced (power in W, energy in
    Wh); ``evId`` is the EVCCID or VIN, empty when the EV did not identify itself; ``raw`` is
    the announcement it came from."""

    station_id: str
    evse_id: int
    ev_id: str
    bidirectional: bool
    energy_transfer_modes: list[str]
    max_charge_power_w: float | None
    max_discharge_power_w: float | None
    battery_capacity_wh: float | None
    raw: dict[str, Any] | None
    updated_at: dt.datetime
    source: str = spec(enum=("v2x_parameters", "custom_data", "declared"))


@attrs.frozen
class CapabilityList:
    items: list[Capability]
