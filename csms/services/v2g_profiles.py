"""The charging profiles csms sends for ISO 15118 needs and V2G discharge, as wire JSON (pure).

Sign convention (OCPP 2.1 Part 2 section 2.1): positive = charging (energy to the EV),
negative = discharging; ``limit`` >= 0 caps charging, ``dischargeLimit`` <= 0 caps
discharging, ``setpoint`` is the value to follow. Power in W (``chargingRateUnit`` ``W``).

Every profile here is a TxProfile of the transaction (K15.FR.07) with one chargingSchedule
(K15.FR.18, K17.FR.19) of at most two periods (within ``maxScheduleTuples``), at stack level
``SESSION_STACK_LEVEL`` with the id ``tx_profile_id(evse_id)``: the needs profile, the
discharge profile and the profile that restores charging replace one another by id
(K01.FR.05), so there is never a second TxProfile with the same transaction and stack level
(K01.FR.39).

- ``charging_profile_for_needs`` (K15/K17, Q01 step 5, Q02.FR.01/02): the answer to accepted
  needs. Charge-only: ChargingOnly periods (2.1) or plain periods (2.0.1) that spread the
  energy needed to the departure (``v2g_needs_schedule``), never above the EV's and the
  station's maximum, no ``dischargeLimit``/``setpoint`` (Q02.FR.02). V2X
  allowed (2.1): a Dynamic CentralSetpoint period charging at that power (positive setpoint),
  which a discharge session later turns negative with UpdateDynamicSchedule (Q04).
- ``discharge_profile`` (Q03): 2.1 CentralSetpoint with a negative ``setpoint`` and no
  ``limit``/``dischargeLimit`` (Q03.FR.02, which the requirement states although the mode
  table marks them optional), ``_L2``/``_L3`` only when the EV reported them (V2X.08),
  ``maxOfflineDuration`` with ``invalidAfterOfflineDuration`` (Q11/Q12, K01.FR.104);
  2.0.1: a negative ``limit`` (docs/V2G.md "OCPP 2.0.1").
- ``dynamic_schedule_update`` / ``pull_dynamic_schedule_response`` (Q04): a new setpoint.
- ``charging_only_profile`` and ``clear_profile_request``: how a session restores charging.
- ``schedule_decision`` (K15.FR.11-13, K16.FR.06-08, K17.FR.11-13): the EV's schedule in
  NotifyEVChargingSchedule checked against the profile sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final

from csms.protocol import Version

from ._v2g_json import json_number
from .v2g_needs_schedule import departure_at, energy_needed_wh, needs_periods, periods_allowed
from .v2g_preferences import V2GPreferences
from .v2g_schedule_check import ScheduleDecision, schedule_decision, schedule_within_limits
from .v2x_capability import EVCapability

__all__ = [
    "DEFAULT_MAX_OFFLINE_S",
    "NO_LIMIT_W",
    "PROFILE_ID_BASE",
    "SESSION_STACK_LEVEL",
    "ScheduleDecision",
    "charge_limit_w",
    "charging_only_profile",
    "charging_profile_for_needs",
    "clear_profile_request",
    "discharge_profile",
    "dynamic_schedule_update",
    "pull_dynamic_schedule_response",
    "schedule_decision",
    "schedule_within_limits",
    "tx_profile_id",
]

#: csms's V2G TxProfiles use ids PROFILE_ID_BASE + evseId (one transaction per EVSE at a time).
PROFILE_ID_BASE: Final = 1_400_000
SESSION_STACK_LEVEL: Final = 1
#: How long a V2X profile outlives a lost connection (Q11); the station then falls back.
DEFAULT_MAX_OFFLINE_S: Final = 60
#: The charge limit when neither the EV nor the station said theirs: the station's own
#: hardware limit applies (a limit is required in a ChargingOnly period and in 2.0.1).
NO_LIMIT_W: Final = Decimal(1_000_000)


def tx_profile_id(evse_id: int) -> int:
    """The id of csms's V2G TxProfile on ``evse_id`` (and of its only chargingSchedule)."""
    return PROFILE_ID_BASE + evse_id


def _timestamp(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def charge_limit_w(
    capability: EVCapability | None, station_max_w: Decimal | None = None
) -> Decimal:
    """The charging power to allow: the lower of the EV's and the station's maximum."""
    ev_max = None if capability is None else capability.max_charge_w
    return min((w for w in (ev_max, station_max_w) if w), default=NO_LIMIT_W)


def _set_profile(
    *,
    evse_id: int,
    transaction_id: str,
    kind: str,
    period: dict[str, Any] | list[dict[str, Any]],
    now: dt.datetime,
    duration_s: int | None = None,
    offline: int | None = None,
) -> dict[str, Any]:
    """A SetChargingProfileRequest payload around one period."""
    profile_id = tx_profile_id(evse_id)
    schedule: dict[str, Any] = {
        "id": profile_id,
        "startSchedule": _timestamp(now),
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": period if isinstance(period, list) else [period],
    }
    if duration_s is not None:
        schedule["duration"] = duration_s
    profile: dict[str, Any] = {
        "id": profile_id,
        "stackLevel": SESSION_STACK_LEVEL,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": kind,
        "transactionId": transaction_id,
        "chargingSchedule": [schedule],
    }
    if offline is not None:
        profile["maxOfflineDuration"] = offline
        profile["invalidAfterOfflineDuration"] = True
    return {"evseId": evse_id, "chargingProfile": profile}


def charging_only_profile(
    *,
    evse_id: int,
    transaction_id: str,
    limit_w: Decimal,
    version: Version,
    now: dt.datetime,
    shape: Sequence[tuple[int, Decimal]] = (),
) -> dict[str, Any]:
    """A TxProfile that only charges, at most ``limit_w`` (Q02.FR.01/02): 2.1 ChargingOnly,
    2.0.1 plain periods; no ``_L2``/``_L3`` values (K01.FR.142 allows them only when the EV
    reported its phases, and one total is enough). ``shape``: the periods
    ``(startPeriod s, limit W)``, each capped by ``limit_w``; one at ``limit_w`` when empty."""
    if limit_w < 0 or any(w < 0 for _, w in shape):
        raise ValueError("a charging limit is not negative")
    periods: list[dict[str, Any]] = []
    for start, watts in shape or [(0, limit_w)]:
        period: dict[str, Any] = {"startPeriod": start, "limit": json_number(min(watts, limit_w))}
        if version is Version.V21:
            period["operationMode"] = "ChargingOnly"
        periods.append(period)
    return _set_profile(
        evse_id=evse_id, transaction_id=transaction_id, kind="Absolute", period=periods, now=now
    )


def _setpoints(setpoint_w: Decimal, capability: EVCapability) -> dict[str, Any]:
    """The ``setpoint`` fields for a signed setpoint. A discharge is split over the phases
    only when the EV reported maxDischargePower_L2/_L3, and only onto those (V2X.07/08: then
    ``setpoint`` is phase L1), each phase its share capped by its maximum; a charging
    setpoint stays one total (V2X.08 ties every setpoint_L2/_L3 to the discharge values)."""
    if setpoint_w >= 0:
        return {"setpoint": json_number(setpoint_w)}
    total = -setpoint_w
    reported = {
        suffix: cap
        for suffix, cap in (
            ("_L2", capability.max_discharge_w_l2),
            ("_L3", capability.max_discharge_w_l3),
        )
        if cap is not None
    }
    if not reported:
        return {"setpoint": json_number(setpoint_w)}
    # Tenths of a watt, rounded down: the phases together never exceed the total.
    share = (total / (1 + len(reported))).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    first = capability.max_discharge_w
    fields = {"setpoint": json_number(-(share if first is None else min(share, first)))}
    for suffix, cap in reported.items():
        fields["setpoint" + suffix] = json_number(-min(share, cap))
    return fields


def charging_profile_for_needs(
    *,
    capability: EVCapability,
    transaction_id: str,
    version: Version,
    now: dt.datetime,
    v2x: bool,
    station_max_w: Decimal | None = None,
    max_offline_s: int = DEFAULT_MAX_OFFLINE_S,
    preferences: V2GPreferences | None = None,
    tz: dt.tzinfo = dt.UTC,
    station_periods: int | None = None,
) -> dict[str, Any]:
    """The SetChargingProfileRequest that follows Accepted needs (K15.FR.07, K17.FR.07/19).

    ``v2x`` (2.1, the needs decision's ``profile == "v2x"``): a Dynamic CentralSetpoint
    period charging at the allowed power (Q01 step 5; Q03.FR.02: no limit fields), which a
    discharge session moves. Otherwise charge-only (Q02.FR.01/02), shaped by the needs
    (``v2g_needs_schedule``): the energy needed (the EV's, or its owner's departure energy)
    spread to the departure (the EV's, or the owner's default time of day in ``tz``), full
    power when the time is too short; no more periods than the EV's ``maxScheduleTuples``
    and the station's ``station_periods`` (SmartChargingCtrlr.PeriodsPerSchedule) allow.
    """
    limit = charge_limit_w(capability, station_max_w)
    if not (v2x and version is Version.V21):
        shape = needs_periods(
            energy_wh=energy_needed_wh(capability, preferences),
            departure=departure_at(capability, preferences, now=now, tz=tz),
            now=now,
            max_w=limit,
            min_w=capability.min_charge_w,
            max_periods=periods_allowed(capability.max_schedule_tuples, station_periods),
        )
        return charging_only_profile(
            evse_id=capability.evse_id,
            transaction_id=transaction_id,
            limit_w=limit,
            version=version,
            now=now,
            shape=shape,
        )
    period: dict[str, Any] = {"startPeriod": 0, "operationMode": "CentralSetpoint"}
    period |= _setpoints(limit, capability)
    return _set_profile(
        evse_id=capability.evse_id,
        transaction_id=transaction_id,
        kind="Dynamic",
        period=period,
        now=now,
        offline=max_offline_s,
    )


def discharge_profile(
    *,
    capability: EVCapability,
    transaction_id: str,
    discharge_w: Decimal,
    version: Version,
    now: dt.datetime,
    dynamic: bool = True,
    max_offline_s: int = DEFAULT_MAX_OFFLINE_S,
    duration_s: int | None = None,
) -> dict[str, Any]:
    """The SetChargingProfileRequest that discharges at ``discharge_w`` (a positive power).

    2.1 (Q03.FR.01/02, Q04): ``operationMode`` CentralSetpoint, ``setpoint`` -discharge_w (per
    phase when the EV reported _L2/_L3: V2X.08), no limit fields, kind Dynamic (or Absolute),
    ``maxOfflineDuration`` and ``invalidAfterOfflineDuration`` (Q11/Q12). 2.0.1: ``limit``
    -discharge_w, kind Absolute (docs/V2G.md). ``ValueError`` when the power is not positive
    or beyond the EV's maximum discharge power.
    """
    if discharge_w <= 0:
        raise ValueError("the discharge power must be positive")
    if capability.max_discharge_w is not None and discharge_w > capability.max_discharge_w:
        raise ValueError("the discharge power exceeds the EV's maximum")
    if version is Version.V201:
        return _set_profile(
            evse_id=capability.evse_id,
            transaction_id=transaction_id,
            kind="Absolute",
            period={"startPeriod": 0, "limit": json_number(-discharge_w)},
            now=now,
            duration_s=duration_s,
        )
    period: dict[str, Any] = {"startPeriod": 0, "operationMode": "CentralSetpoint"}
    period |= _setpoints(-discharge_w, capability)
    return _set_profile(
        evse_id=capability.evse_id,
        transaction_id=transaction_id,
        kind="Dynamic" if dynamic else "Absolute",
        period=period,
        now=now,
        duration_s=duration_s,
        offline=max_offline_s,
    )


def dynamic_schedule_update(
    *, evse_id: int, setpoint_w: Decimal, capability: EVCapability
) -> dict[str, Any]:
    """The UpdateDynamicScheduleRequest that moves the Dynamic profile's setpoint (Q04);
    ``setpoint_w`` is signed (negative = discharge)."""
    return {
        "chargingProfileId": tx_profile_id(evse_id),
        "scheduleUpdate": _setpoints(setpoint_w, capability),
    }


def pull_dynamic_schedule_response(
    setpoint_w: Decimal | None, capability: EVCapability | None
) -> dict[str, Any]:
    """The PullDynamicScheduleUpdateResponse (Q04 scenario #2): the current setpoint, or
    Rejected when csms has no dynamic profile on that EVSE."""
    if setpoint_w is None or capability is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownProfile"}}
    return {"status": "Accepted", "scheduleUpdate": _setpoints(setpoint_w, capability)}


def clear_profile_request(evse_id: int) -> dict[str, Any]:
    """The ClearChargingProfileRequest that removes csms's V2G TxProfile on ``evse_id``."""
    return {"chargingProfileId": tx_profile_id(evse_id)}
