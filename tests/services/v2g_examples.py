"""What the V2G policy tests share: an operator zone, a Monday evening, a V2X station, a
bidirectional EV, an opted-in user, and the check that a payload is schema-valid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from csms.protocol import Direction, Version, validate_payload
from csms.services.v2g_preferences import DEFAULT_TIME_ZONE, V2GPreferences, time_zone
from csms.services.v2g_session import (
    RestoreCharging,
    SendAllowedEnergyTransfer,
    SendProfile,
    SendSetpoint,
)
from csms.services.v2x_capability import EVCapability, StationV2XSupport

SP = time_zone(DEFAULT_TIME_ZONE)  # UTC-3 all year since 2019
NOW = dt.datetime(2026, 3, 2, 21, 30, tzinfo=dt.UTC)  # Monday 18:30 in Sao Paulo
V2X_STATION = StationV2XSupport(
    enabled=True, operation_modes=frozenset({"ChargingOnly", "CentralSetpoint"})
)
BPT_EV = EVCapability(
    evse_id=1,
    requested_mode="DC_BPT",
    available_modes=("DC", "DC_BPT"),
    source="v2x_parameters",
    max_charge_w=Decimal(11000),
    max_discharge_w=Decimal(7000),
    battery_capacity_wh=Decimal(60000),
    state_of_charge=Decimal(70),
    target_soc=80,
)
OPTED_IN = V2GPreferences(
    user_id="u1", opt_in=True, min_soc_percent=Decimal(30), max_discharge_w=Decimal(5000)
)


def check_wire(version: Version, effects) -> None:
    """Every payload a session asks to send is schema-valid for the station's version."""
    for effect in effects:
        match effect:
            case SendProfile(request=payload) | RestoreCharging(profile=dict() as payload):
                validate_payload(version, "SetChargingProfile", Direction.REQUEST, payload)
            case RestoreCharging(clear=dict() as payload):
                validate_payload(version, "ClearChargingProfile", Direction.REQUEST, payload)
            case SendSetpoint(request=payload):
                validate_payload(version, "UpdateDynamicSchedule", Direction.REQUEST, payload)
            case SendAllowedEnergyTransfer(request=payload):
                validate_payload(version, "NotifyAllowedEnergyTransfer", Direction.REQUEST, payload)
