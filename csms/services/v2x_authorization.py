"""V2X authorization (OCPP 2.1 Q01/Q02) and the answer to NotifyEVChargingNeeds (K15/K17)
(pure).

V2X is allowed for an EV at a station when all hold (SPEC section 6):

- the station supports it (``StationV2XSupport.v2x_capable``: 2.1 ``V2XChargingCtrlr.Enabled``
  and ``CentralSetpoint`` among ``SupportedOperationModes``, or registered bidirectional);
- the id token's user opted in (``V2GPreferences.opt_in``);
- the user's discharge windows allow it now, in the operator's time zone.

``allowed_energy_transfer`` is the AuthorizeResponse's ``allowedEnergyTransfer`` (Q01.FR.01):
every charging mode, plus the BPT modes when V2X is allowed (the EV picks from the list), or
None to omit the field: on 2.0.1 (no such field), for a station that is not V2X-capable
(Q01.FR.01 note) and while csms cannot tell yet (Q01.FR.08 / Q02.FR.03: the station's
V2XChargingCtrlr variables not read). When V2X becomes allowed later (opt-in, a window
opens), the owner sends the new list with NotifyAllowedEnergyTransfer (Q02.FR.05).

``needs_decision`` answers NotifyEVChargingNeeds:

- ``Rejected`` when the EV requests a BPT transfer that is not allowed (Q01.FR.04), with the
  reason as ``statusInfo.reasonCode``; the station then renegotiates or ends the transaction
  (Q01.FR.05/06);
- ``Processing`` when csms accepts but cannot compute the profile yet (Q01.FR.07, K15.FR.05):
  the station's V2X support (or, for a station registered bidirectional, its operation modes,
  K01.FR.115) is still being read; the profile follows (K15.FR.07);
- ``NoChargingProfile`` (2.1 only) when a TxDefaultProfile that csms itself installed applies
  (Q01 scenario #2, K19.FR.04): no SetChargingProfile follows;
- ``Accepted`` otherwise (Q01.FR.07, K15.FR.03, K17.FR.03), and **a SetChargingProfile always
  follows**: ``profile`` says which (``v2x``: a CentralSetpoint profile, Q01 step 5;
  ``charging_only``: a ChargingOnly or, on 2.0.1, plain TxProfile, Q02.FR.01).
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import attrs

from csms.protocol import Version

from .v2g_preferences import V2GPreferences, window_allows
from .v2x_capability import (
    CHARGING_MODES,
    ENERGY_TRANSFER_MODES,
    EVCapability,
    StationV2XSupport,
)

__all__ = [
    "UNAVAILABLE",
    "NeedsDecision",
    "NeedsStatus",
    "V2XRefusal",
    "allowed_energy_transfer",
    "needs_decision",
    "needs_response",
    "v2x_refusal",
]

#: Why needs are Rejected when csms cannot decide them (its database is down): "service not
#: available" (the 2.0.1 meaning of Rejected), never an Accepted with no profile after it.
UNAVAILABLE: Final = "csms_unavailable"

NeedsStatus = Literal["Accepted", "Processing", "NoChargingProfile", "Rejected"]
#: Why V2X is not allowed; the same stable codes as a refused discharge start (REST 409).
V2XRefusal = Literal["operation_mode_unsupported", "user_not_opted_in", "outside_discharge_window"]

_REASON_TEXT: Final = {
    "operation_mode_unsupported": "the station does not support V2X CentralSetpoint",
    "user_not_opted_in": "the EV's user has not opted in to V2G",
    "outside_discharge_window": "outside the user's discharge windows",
    UNAVAILABLE: "csms cannot read the transaction or the user now",
}


@attrs.frozen
class NeedsDecision:
    """The NotifyEVChargingNeedsResponse status, why, and the profile that must follow."""

    status: NeedsStatus
    reason: str | None = None
    profile: Literal["v2x", "charging_only"] | None = None

    @property
    def profile_follows(self) -> bool:
        """Accepted and Processing promise a SetChargingProfile (Q01.FR.07, K15.FR.07)."""
        return self.status in ("Accepted", "Processing")


def v2x_refusal(
    station: StationV2XSupport,
    preferences: V2GPreferences | None,
    version: Version,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> V2XRefusal | None:
    """Why V2X is not allowed now, or None when it is. A token linked to no user has no
    preferences: not opted in."""
    if not station.v2x_capable(version):
        return "operation_mode_unsupported"
    if preferences is None or not preferences.opt_in:
        return "user_not_opted_in"
    if not window_allows(preferences.windows, now, tz):
        return "outside_discharge_window"
    return None


def allowed_energy_transfer(
    *,
    station: StationV2XSupport,
    preferences: V2GPreferences | None,
    version: Version,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> list[str] | None:
    """AuthorizeResponse.allowedEnergyTransfer for an accepted id token (Q01.FR.01), or None
    to omit it (2.0.1; a station that is not V2X-capable; Q01.FR.08 while unknown)."""
    if version is Version.V201 or not station.known or not station.v2x_capable(version):
        return None
    if v2x_refusal(station, preferences, version, now, tz) is None:
        return list(ENERGY_TRANSFER_MODES)
    return list(CHARGING_MODES)


def needs_decision(
    *,
    capability: EVCapability,
    station: StationV2XSupport,
    preferences: V2GPreferences | None,
    version: Version,
    now: dt.datetime,
    tz: dt.tzinfo,
    default_profile_applies: bool = False,
) -> NeedsDecision:
    """How to answer one NotifyEVChargingNeeds (Q01.FR.04/07, K15.FR.03-05, K17.FR.03-05).

    ``default_profile_applies``: a TxDefaultProfile that csms installed on this EVSE covers
    the requested transfer (2.1 only; 2.0.1 has no NoChargingProfile status).
    """
    wants_v2x = capability.bidirectional_requested
    if version is Version.V201:
        # 2.0.1 has no V2X authorization: the needs are answered as K15; whether a discharge
        # may start is the session's decision (docs/V2G.md "OCPP 2.0.1").
        return NeedsDecision("Accepted", profile="charging_only")
    unread = NeedsDecision("Processing", reason="station V2X support not read yet", profile="v2x")
    if wants_v2x and not station.known:
        return unread
    if wants_v2x:
        refusal = v2x_refusal(station, preferences, version, now, tz)
        if refusal is not None:
            return NeedsDecision("Rejected", reason=refusal)
        if not station.supports("CentralSetpoint"):
            # Registered bidirectional, modes not read yet: the V2X profile may only carry a
            # mode the station lists (K01.FR.115), so it waits for them.
            return unread
    if default_profile_applies:
        return NeedsDecision("NoChargingProfile")
    return NeedsDecision("Accepted", profile="v2x" if wants_v2x else "charging_only")


def needs_response(decision: NeedsDecision) -> dict[str, object]:
    """The NotifyEVChargingNeedsResponse payload: status, and for a Rejected or Processing
    answer a ``statusInfo``: ``reasonCode`` ``NotAllowed`` / ``Processing`` (the schema allows
    20 characters) and ``additionalInfo`` the stable code with its text."""
    payload: dict[str, object] = {"status": decision.status}
    if decision.reason is not None and decision.status in ("Rejected", "Processing"):
        if decision.status == "Processing":
            code = "Processing"
        else:
            code = "InternalError" if decision.reason == UNAVAILABLE else "NotAllowed"
        payload["statusInfo"] = {
            "reasonCode": code,
            "additionalInfo": f"{decision.reason}: {_REASON_TEXT[decision.reason]}"
            if decision.reason in _REASON_TEXT
            else decision.reason,
        }
    return payload
