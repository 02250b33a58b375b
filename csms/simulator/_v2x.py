"""The V2X side of a simulated station (pure): the energy transfer a V2X EV negotiates after
plug-in and after each CSMS answer, and the station's answers to the smart-charging commands
that drive it (SetChargingProfile, ClearChargingProfile, UpdateDynamicSchedule,
NotifyAllowedEnergyTransfer). Each returns the response payload and the messages it causes:
on 2.1, a TransactionEvent Updated with triggerReason ChargingRateChanged for each transaction
whose power the command changed.
"""

from __future__ import annotations

import datetime
from typing import Any

from csms.protocol import Version

from ._ev import (
    BPT_MODES,
    ActiveProfile,
    V2XSession,
    active_profile,
    charging_needs,
    choose_transfer,
    unsupported_modes,
    update_watts,
)
from ._model import ChargePoint, Evse, Outgoing, SimulationError
from ._profiles import schedule_of

__all__ = [
    "clear_profile",
    "follow_schedules",
    "install",
    "needs_answered",
    "negotiate",
    "notify_allowed_energy_transfer",
    "plugged_in",
    "set_profile",
    "update_dynamic_schedule",
]

Answer = tuple[dict[str, Any], list[Outgoing]]


def negotiate(cp: ChargePoint, evse: Evse, now: datetime.datetime, *, bpt: bool) -> list[Outgoing]:
    """A (re)negotiation with the EV: the NotifyEVChargingNeeds announcing what it chose."""
    assert evse.v2x is not None
    v21 = cp.version is Version.V21
    evse.v2x.requested = choose_transfer(cp.ev, evse.v2x.allowed, v21=v21, bpt=bpt)
    payload = charging_needs(cp.ev, evse.id, evse.v2x, now, v21=v21)
    return [Outgoing("NotifyEVChargingNeeds", payload)]


def plugged_in(
    cp: ChargePoint, evse: Evse, now: datetime.datetime, allowed: tuple[str, ...] | None
) -> list[Outgoing]:
    """After TransactionEvent Started: a V2X EV announces its needs (Q01.FR.03, Q02.FR.04);
    ``allowed`` is the AuthorizeResponse's allowedEnergyTransfer (None: not given)."""
    if not cp.ev.v2g:
        return []
    departure = now + datetime.timedelta(hours=cp.ev.departure_hours)
    evse.v2x = V2XSession(requested="", allowed=allowed, departure=departure)
    return negotiate(cp, evse, now, bpt=cp.ev.request_bpt)


def needs_answered(
    cp: ChargePoint,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    now: datetime.datetime,
) -> list[Outgoing]:
    """What the station does once its NotifyEVChargingNeeds was answered: after a Rejected BPT
    request it renegotiates charge-only (Q01.FR.05); a rejected charge-only request ends the
    transaction (Q01.FR.06)."""
    evse = next((e for e in cp.evses if e.id == request["evseId"]), None)
    if response is None or response["status"] != "Rejected" or evse is None:
        return []
    if evse.v2x is None or evse.tx_id is None:
        return []
    if evse.v2x.requested in BPT_MODES:
        return negotiate(cp, evse, now, bpt=False)
    reason = "ReqEnergyTransferRejected" if cp.version is Version.V21 else "Other"
    return cp.stop(evse.id, now, reason=reason, trigger="AbnormalCondition")


def _powers(cp: ChargePoint) -> dict[int, float]:
    """The power of every EVSE in a transaction, by id."""
    return {evse.id: evse.power_w for evse in cp.charging()}


def _rate_changed(
    cp: ChargePoint, before: dict[int, float], now: datetime.datetime, *, offline: bool = False
) -> list[Outgoing]:
    """2.1: a TransactionEvent Updated (ChargingRateChanged) for each transaction whose power a
    command changed from ``before``, so the CSMS learns the new rate at once instead of at
    the next periodic sample. 2.0.1 EVs report it with their next sample."""
    if cp.version is not Version.V21:
        return []
    return [
        cp.transaction_event(
            evse, "Updated", "ChargingRateChanged", now, offline=offline, context="Other"
        )
        for evse in cp.charging()
        if evse.id in before and evse.power_w != before[evse.id]
    ]


def follow_schedules(
    cp: ChargePoint, seconds: float, now: datetime.datetime, *, offline: bool
) -> list[Outgoing]:
    """``seconds`` pass up to ``now`` (`ChargePoint.advance`); a profile's period that began
    meanwhile changed the rate as a new profile does (ChargingRateChanged on 2.1)."""
    before = _powers(cp)
    cp.advance(seconds, now)
    return _rate_changed(cp, before, now, offline=offline)


def install(cp: ChargePoint, evse_id: int, profile: dict[str, Any], now: datetime.datetime) -> None:
    """Install a SetChargingProfile's ``profile`` at ``now``: the model's clock moves there, so
    a schedule counted from its installation (Relative) is in force at once."""
    cp.clock = now if cp.clock is None else max(cp.clock, now)
    cp.set_profile(evse_id, None, active_profile(profile), schedule_of(profile, now))


def set_profile(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    """K01: follow the profile's schedule, period by period from its start (installed now
    when Relative or without startSchedule); an operation mode the station did not list in
    V2XChargingCtrlr.SupportedOperationModes is refused (K01.FR.115)."""
    profile = req["chargingProfile"]
    if cp.version is Version.V21:
        unsupported = unsupported_modes(profile, cp.operation_modes)
        if unsupported:
            info = {
                "reasonCode": "InvalidOperationMode",
                "additionalInfo": "not supported: " + ", ".join(unsupported),
            }
            return {"status": "Rejected", "statusInfo": info}, []
    before = _powers(cp)
    try:
        install(cp, req["evseId"], profile, now)
    except SimulationError:
        return {"status": "Rejected"}, []
    return {"status": "Accepted"}, _rate_changed(cp, before, now)


def clear_profile(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    """K10: remove the profiles with the id, or those matching the criteria; the EV falls back to
    the next profile in the stack, or to charging at full power. Unknown when none matched.
    An EVSE that no longer discharges once they are gone forgets its discharge altogether
    (a local one started at the prompt too): the CSMS restored charging there."""
    profile_id = req.get("chargingProfileId")
    criteria = req.get("chargingProfileCriteria") or {}
    evse_id = criteria.get("evseId", 0) if profile_id is None else 0
    purpose, stack_level = criteria.get("chargingProfilePurpose"), criteria.get("stackLevel")

    def matches(profile: ActiveProfile) -> bool:
        if profile_id is not None:
            return bool(profile.id == profile_id)
        return (purpose is None or profile.purpose == purpose) and (
            stack_level is None or profile.stack_level == stack_level
        )

    evses = cp.evses if evse_id == 0 else [e for e in cp.evses if e.id == evse_id]
    before = _powers(cp)
    removed = []
    for evse in evses:
        discharged = evse.profile_w is not None and evse.profile_w < 0
        removed.append(cp.remove_profiles(evse, matches))
        if removed[-1] and discharged and not (evse.profile_w is not None and evse.profile_w < 0):
            cp.discharge(evse, None)
    status = "Accepted" if any(removed) else "Unknown"
    return {"status": status}, _rate_changed(cp, before, now)


def update_dynamic_schedule(cp: ChargePoint, req: dict[str, Any], now: datetime.datetime) -> Answer:
    """K28.FR.06: the new setpoint (or limits) applies at once to the Dynamic profile; another
    profile or an unknown id is Rejected (K28.FR.11)."""
    profile_id = req["chargingProfileId"]
    for evse in cp.evses:
        installed = evse.stack.profiles.get(profile_id)
        if installed is None or installed[0].kind != "Dynamic":
            continue
        before = _powers(cp)
        watts = update_watts(req["scheduleUpdate"], installed[0])
        if watts is not None:
            evse.stack.update(profile_id, watts)
        cp.restack(evse)
        return {"status": "Accepted"}, _rate_changed(cp, before, now)
    return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidProfile"}}, []


def notify_allowed_energy_transfer(
    cp: ChargePoint, req: dict[str, Any], now: datetime.datetime
) -> Answer:
    """Q02.FR.06/07: Accepted for a V2X EV's transaction, then a service renegotiation: fresh
    needs asking for the EV's BPT mode when the new list has it."""
    evse = cp.by_transaction(req["transactionId"])
    if evse is None or evse.v2x is None:
        return {"status": "Rejected"}, []
    evse.v2x.allowed = tuple(req["allowedEnergyTransfer"])
    return {"status": "Accepted"}, negotiate(cp, evse, now, bpt=True)
