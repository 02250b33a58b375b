"""The simulated EV (pure): its battery and, for a V2X EV, the ISO 15118 side of a session as
OCPP sees it: the Authorize it asks for, the NotifyEVChargingNeeds it announces (2.1 with
``v2xChargingParameters``; 2.0.1 with the csms discharge convention in ``customData``), and the
power a charging profile's period or a dynamic schedule update asks for.

Sign convention (OCPP 2.1 section 2.1): positive power charges the EV, negative discharges it.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

import attrs

__all__ = [
    "BPT_MODES",
    "DISCHARGE_VENDOR_ID",
    "ActiveProfile",
    "Ev",
    "V2XSession",
    "active_profile",
    "charging_needs",
    "choose_transfer",
    "id_token",
    "iso",
    "period_watts",
    "profile_watts",
    "schedules",
    "unsupported_modes",
    "update_watts",
]

#: The bidirectional (BPT) energy transfer modes of OCPP 2.1, and the charge-only mode an EV
#: that supports each one falls back to.
BPT_MODES: Final = {
    "AC_BPT": "AC_three_phase",
    "AC_BPT_DER": "AC_three_phase",
    "DC_BPT": "DC",
    "DC_ACDP_BPT": "DC_ACDP",
}
#: OCPP 2.0.1 knows no BPT modes: its EVs charge in one of these.
_V201_MODES: Final = {"AC_BPT": "AC_three_phase", "AC_BPT_DER": "AC_three_phase"}
#: ``customData.vendorId`` of the 2.0.1 discharge convention (docs/V2G.md).
DISCHARGE_VENDOR_ID: Final = "org.csms.v2g"
#: 2.1 operation modes in which the EV follows a setpoint and may discharge.
_SETPOINT_MODES: Final = frozenset(
    {"CentralSetpoint", "ExternalSetpoint", "ExternalLimits", "CentralFrequency", "LocalFrequency"}
)
_VOLTS: Final = 230.0  # profiles in amperes become watts at this voltage per phase
_MAX_VOLTAGE: Final = 400


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.define(slots=True)
class Ev:
    """The vehicle plugged into every EVSE of a simulated station (one battery, shared)."""

    soc: float = 50.0  # percent
    battery_kwh: float = 60.0
    v2g: bool = False  # bidirectional (V2X): negotiates over ISO 15118 and may discharge
    discharge_kw: float = 11.0  # maximum discharge power
    min_soc: float = 10.0  # never discharges below: the bottom of its V2X range
    charge_kw: float = 22.0  # maximum charge power
    max_v2x_soc: float = 90.0  # the top of its V2X (cycling) range
    target_soc: float = 80.0  # wanted at departure
    departure_hours: float = 8.0  # after plug-in
    #: Asks for its BPT mode at plug-in when the CSMS allowed it in AuthorizeResponse; False
    #: starts charge-only (Q02) until a NotifyAllowedEnergyTransfer brings a BPT mode.
    request_bpt: bool = True
    bpt_mode: str = "AC_BPT"
    control_mode: str = "ScheduledControl"  # or DynamicControl (ISO 15118-20)
    id_token: str = "SIMULATED"
    token_type: str = "Central"
    ev_id: str | None = None  # EVCCID, sent in the id token's additionalInfo (Q01.FR.02)

    @property
    def capacity_wh(self) -> float:
        return self.battery_kwh * 1000.0

    def energy_to(self, soc: float) -> float:
        """Wh from the current state of charge to ``soc`` (negative: above it)."""
        return (soc - self.soc) * self.capacity_wh / 100.0

    def energy_wh(self, wh: float) -> float:
        """Take ``wh`` into the battery (negative: out of it), within [min_soc, 100] %; the
        energy that really moved."""
        bound, room = (self.min_soc, min(0.0, self.energy_to(self.min_soc)))
        if wh >= 0:
            bound, room = (100.0, max(0.0, self.energy_to(100.0)))
        if abs(wh) >= abs(room):  # reaches the bound: land on it exactly (no float creep)
            self.soc = bound if room else self.soc
            return room
        self.soc += wh * 100.0 / self.capacity_wh
        return wh


@attrs.frozen
class ActiveProfile:
    """What the EVSE keeps of the charging profile it follows."""

    id: int
    purpose: str  # a TxProfile ends with its transaction
    kind: str  # Absolute | Recurring | Relative | Dynamic
    operation_mode: str | None
    unit: str  # W | A
    phases: int
    stack_level: int = 0
    max_offline: float | None = None  # seconds offline it stays valid (Q11); None: always
    invalid_after_offline: bool = False  # ... and then gone for good (Q12)


@attrs.define(slots=True)
class V2XSession:
    """The ISO 15118 energy transfer negotiated on one EVSE's transaction."""

    requested: str  # requestedEnergyTransfer of the last NotifyEVChargingNeeds
    allowed: tuple[str, ...] | None  # allowedEnergyTransfer from the CSMS; None: not told
    departure: datetime.datetime


def id_token(ev: Ev) -> dict[str, Any]:
    token: dict[str, Any] = {"idToken": ev.id_token, "type": ev.token_type}
    if ev.ev_id is not None:
        token["additionalInfo"] = [{"additionalIdToken": ev.ev_id, "type": "EVCCID"}]
    return token


def _available(ev: Ev, v21: bool) -> list[str]:
    charge_only = BPT_MODES.get(ev.bpt_mode, "AC_three_phase")
    return [charge_only, ev.bpt_mode] if v21 else [charge_only]


def choose_transfer(ev: Ev, allowed: tuple[str, ...] | None, *, v21: bool, bpt: bool) -> str:
    """The requestedEnergyTransfer: the EV's BPT mode when it wants one (``bpt``) and the CSMS
    allowed it (Q01), else its charge-only mode (Q01.FR.09/Q02.FR.04 when nothing was allowed)."""
    if v21 and ev.v2g and bpt and allowed is not None and ev.bpt_mode in allowed:
        return ev.bpt_mode
    return BPT_MODES.get(ev.bpt_mode, "AC_three_phase") if v21 else _v201_mode(ev)


def _v201_mode(ev: Ev) -> str:
    return _V201_MODES.get(ev.bpt_mode, "DC")


def charging_needs(
    ev: Ev, evse_id: int, session: V2XSession, now: datetime.datetime, *, v21: bool
) -> dict[str, Any]:
    """The NotifyEVChargingNeedsRequest payload announcing ``session.requested``."""
    needs: dict[str, Any] = {
        "requestedEnergyTransfer": session.requested,
        "departureTime": iso(session.departure),
    }
    to_target = round(max(0.0, ev.energy_to(ev.target_soc)), 1)
    if v21:
        needs["availableEnergyTransfer"] = _available(ev, v21)
        needs["controlMode"] = ev.control_mode
        needs["mobilityNeedsMode"] = "EVCC"
        needs["v2xChargingParameters"] = {
            "minChargePower": 0.0,
            "maxChargePower": ev.charge_kw * 1000.0,
            "minDischargePower": 0.0,
            "maxDischargePower": ev.discharge_kw * 1000.0 if ev.v2g else 0.0,
            "evTargetEnergyRequest": to_target,
            "evMinEnergyRequest": round(ev.energy_to(ev.min_soc), 1),
            "evMaxEnergyRequest": round(ev.energy_to(100.0), 1),
            "evMinV2XEnergyRequest": round(ev.energy_to(ev.min_soc), 1),
            "evMaxV2XEnergyRequest": round(ev.energy_to(ev.max_v2x_soc), 1),
            "targetSoC": round(ev.target_soc),
        }
    elif session.requested == "DC":  # 2.0.1 types these as integers
        needs["dcChargingParameters"] = {
            "evMaxCurrent": round(ev.charge_kw * 1000.0 / _MAX_VOLTAGE),
            "evMaxVoltage": _MAX_VOLTAGE,
            "evMaxPower": round(ev.charge_kw * 1000.0),
            "evEnergyCapacity": round(ev.capacity_wh),
            "energyAmount": round(to_target),
            "stateOfCharge": round(ev.soc),
        }
    else:
        needs["acChargingParameters"] = {
            "energyAmount": round(to_target),
            "evMinCurrent": 6,
            "evMaxCurrent": round(ev.charge_kw * 1000.0 / (3 * _VOLTS)),
            "evMaxVoltage": _MAX_VOLTAGE,
        }
    payload: dict[str, Any] = {"evseId": evse_id, "chargingNeeds": needs}
    if v21:
        payload["timestamp"] = iso(now)
    elif ev.v2g:  # the 2.0.1 convention: discharge limits where 2.0.1 has no field for them
        custom: dict[str, Any] = {
            "vendorId": DISCHARGE_VENDOR_ID,
            "dischargeCapable": True,
            "maxDischargePower": ev.discharge_kw * 1000.0,
            "minDischargePower": 0.0,
            "batteryCapacity": ev.capacity_wh,
        }
        if ev.ev_id is not None:
            custom["evId"] = ev.ev_id
        payload["customData"] = custom
    return payload


def schedules(profile: dict[str, Any]) -> list[dict[str, Any]]:
    found = profile.get("chargingSchedule") or []
    return [found] if isinstance(found, dict) else list(found)


def unsupported_modes(profile: dict[str, Any], supported: tuple[str, ...]) -> list[str]:
    """The operation modes of ``profile``'s periods the station did not list in
    V2XChargingCtrlr.SupportedOperationModes (ChargingOnly is always allowed, K01.FR.115)."""
    modes = {
        period["operationMode"]
        for schedule in schedules(profile)
        for period in schedule.get("chargingSchedulePeriod", ())
        if period.get("operationMode") is not None
    }
    return sorted(modes - {"ChargingOnly", *supported})


def active_profile(profile: dict[str, Any]) -> ActiveProfile:
    found = schedules(profile)
    schedule = found[0] if found else {}
    periods = schedule.get("chargingSchedulePeriod") or [{}]
    return ActiveProfile(
        id=int(profile.get("id", 0)),
        purpose=str(profile.get("chargingProfilePurpose", "TxProfile")),
        kind=str(profile.get("chargingProfileKind", "Absolute")),
        operation_mode=periods[0].get("operationMode"),
        unit=str(schedule.get("chargingRateUnit", "W")),
        phases=int(periods[0].get("numberPhases", 3)),
        stack_level=int(profile.get("stackLevel", 0)),
        max_offline=profile.get("maxOfflineDuration"),
        invalid_after_offline=bool(profile.get("invalidAfterOfflineDuration", False)),
    )


def period_watts(values: dict[str, Any], mode: str | None, unit: str, phases: int) -> float | None:
    """The signed power a schedule period (or a dynamic update of one) asks for.

    2.1 fields win: a ``setpoint``, or a ``dischargeLimit`` in a setpoint operation mode; then
    ``limit``, whose negative values 2.0.1 systems use for discharging (docs/V2G.md). Amperes
    become watts over ``phases`` at 230 V.
    """
    if values.get("setpoint") is not None:
        value = float(values["setpoint"])
    elif values.get("dischargeLimit") is not None and mode in _SETPOINT_MODES:
        value = float(values["dischargeLimit"])
    elif mode == "Idle":
        value = 0.0
    elif values.get("limit") is not None:
        value = float(values["limit"])
    else:
        return None
    if unit == "A":
        value *= _VOLTS * phases
    return value


def profile_watts(profile: dict[str, Any]) -> float | None:
    """The signed power the first period of a charging profile asks for (negative: discharge);
    the EVSE follows them all (`_profiles.schedule_of`)."""
    found = schedules(profile)
    if not found or not found[0].get("chargingSchedulePeriod"):
        return None
    schedule = found[0]
    period = schedule["chargingSchedulePeriod"][0]
    unit = schedule.get("chargingRateUnit", "W")
    return period_watts(period, period.get("operationMode"), unit, period.get("numberPhases", 3))


def update_watts(update: dict[str, Any], profile: ActiveProfile) -> float | None:
    """The power a dynamic schedule update (UpdateDynamicSchedule, Q04/K28) asks for."""
    return period_watts(update, profile.operation_mode, profile.unit, profile.phases)
