"""What the V2X owner remembers per EVSE: the EV's latest needs, the transaction and user they
belong to, and the profile last sent for them (K17: the limits an EV's schedule is checked
against). Forgotten when the station boots again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from csms.protocol import Version
from csms.services.v2g_preferences import V2GPreferences
from csms.services.v2x_capability import EVCapability
from csms.storage.v2g import CapabilityRow
from csms.storage.v2x_station_limits import NeedsLimits

__all__ = ["EvseState", "Evses", "capability_row"]


@attrs.define
class EvseState:
    station_id: str
    evse_id: int
    version: Version
    capability: EVCapability
    #: Bumped by every NotifyEVChargingNeeds: a decision for older needs sends nothing.
    generation: int = 0
    transaction_id: str | None = None
    #: The transaction's id token (whose EVCCID an Authorize may have brought).
    id_token: str | None = None
    user_id: str | None = None
    preferences: V2GPreferences | None = None
    #: What the station reported of its limits (EVSE.Power, PeriodsPerSchedule), read with
    #: the decision on the needs.
    limits: NeedsLimits = attrs.field(factory=NeedsLimits)
    #: The power of a discharge session commanding the EVSE when the needs were decided (W).
    discharge_w: Decimal | None = None
    #: Whether the last decision promised a V2X (CentralSetpoint) profile, not charge-only.
    v2x: bool = False
    #: The SetChargingProfileRequest last sent for these needs (wire JSON), until refused.
    sent_profile: dict[str, Any] | None = None
    #: Profiles sent again for these needs after the EV's schedule exceeded them (K15.FR.13).
    renegotiations: int = 0
    #: Bumped by every wait for a window to offer V2X (Q02.FR.05): only the latest offers.
    offer_wait: int = 0


class Evses:
    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], EvseState] = {}

    def __len__(self) -> int:
        return len(self._known)

    def get(self, station_id: str, evse_id: int) -> EvseState | None:
        return self._known.get((station_id, evse_id))

    def needs(self, station_id: str, version: Version, capability: EVCapability) -> EvseState:
        """Fresh needs of the EV at ``capability.evse_id``: its state, one generation on."""
        key = (station_id, capability.evse_id)
        evse = self._known.get(key)
        if evse is None:
            evse = self._known[key] = EvseState(station_id, capability.evse_id, version, capability)
        else:
            evse.version, evse.capability = version, capability
        evse.generation += 1
        evse.renegotiations = 0
        return evse

    def of_user(self, user_id: str) -> list[EvseState]:
        return [evse for evse in self._known.values() if evse.user_id == user_id]

    def forget_station(self, station_id: str) -> None:
        for key in [k for k in self._known if k[0] == station_id]:
            del self._known[key]


def capability_row(
    station_id: str, capability: EVCapability, raw: Mapping[str, Any], at: dt.datetime
) -> CapabilityRow:
    """The ``v2g_capabilities`` row of the EV's needs."""
    return CapabilityRow(
        station_id=station_id,
        evse_id=capability.evse_id,
        ev_id=capability.ev_id or "",
        bidirectional=capability.bidirectional_available,
        energy_transfer_modes=list(capability.available_modes),
        max_charge_power_w=capability.max_charge_w,
        max_discharge_power_w=capability.max_discharge_w,
        battery_capacity_wh=capability.battery_capacity_wh,
        source=capability.source,
        raw=dict(raw),
        updated_at=at,
    )
