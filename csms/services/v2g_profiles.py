"""The charging profiles csms sends for ISO 15118 needs and V2G discharge, as wire JSON (pure).

Sign convention (OCPP 2.1 Part 2 section 2.1): positive = charging (energy to the EV),
negative = discharging; ``limit`` >= 0 caps charging, ``dischargeLimit`` <= 0 caps
discharging, ``setpoint`` is the value to follow. Power in W (``chargingRateUnit`` ``W``).

Every profile here is a TxProfile of the transaction (K15.FR.07) with one chargingSchedule
(K15.FR.18, K17.FR.19) of one period (within any ``maxScheduleTuples``), at stack level
``SESSION_STACK_LEVEL`` with the id ``tx_profile_id(evse_id)``: the needs profile, the
discharge profile and the profile that restores charging replace one another by id
(K01.FR.05), so there is never a second TxProfile with the same transaction and stack level
(K01.FR.39).

- ``charging_profile_for_needs`` (K15/K17, Q01 step 5, Q02.FR.01/02): the answer to accepted
  needs. Charge-only: a ChargingOnly period (2.1) or a plain period (2.0.1) whose ``limit`` is
  the EV's and station's maximum, no ``dischargeLimit``/``setpoint`` (Q02.FR.02). V2X
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
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final, Literal

import attrs

from csms.protocol import Version, parse_datetime

from ._v2g_json import decimal_or_none, json_number
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

_INF: Final = Decimal("Infinity")
_PHASE_SUFFIXES: Final = ("", "_L2", "_L3")


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
    period: dict[str, Any],
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
        "chargingSchedulePeriod": [period],
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
) -> dict[str, Any]:
    """A TxProfile that only charges, at most ``limit_w`` (Q02.FR.01/02): 2.1 ChargingOnly,
    2.0.1 a plain period; no ``_L2``/``_L3`` values (K01.FR.142 allows them only when the EV
    reported its phases, and one total is enough)."""
    if limit_w < 0:
        raise ValueError("a charging limit is not negative")
    period: dict[str, Any] = {"startPeriod": 0, "limit": json_number(limit_w)}
    if version is Version.V21:
        period["operationMode"] = "ChargingOnly"
    return _set_profile(
        evse_id=evse_id, transaction_id=transaction_id, kind="Absolute", period=period, now=now
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
) -> dict[str, Any]:
    """The SetChargingProfileRequest that follows Accepted needs (K15.FR.07, K17.FR.07/19).

    ``v2x`` (2.1, the needs decision's ``profile == "v2x"``): a Dynamic CentralSetpoint
    period charging at the allowed power (Q01 step 5; Q03.FR.02: no limit fields); otherwise
    charge-only (Q02.FR.01/02).
    """
    limit = charge_limit_w(capability, station_max_w)
    if not (v2x and version is Version.V21):
        return charging_only_profile(
            evse_id=capability.evse_id,
            transaction_id=transaction_id,
            limit_w=limit,
            version=version,
            now=now,
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


# -- the EV's schedule (NotifyEVChargingSchedule) ---------------------------------------------


def _bounds(period: Mapping[str, Any], suffix: str) -> tuple[Decimal, Decimal]:
    """The interval of power a sent period allows, by the sign convention: ``limit`` caps
    charging (a negative one is the 2.0.1 discharge convention), ``dischargeLimit`` caps
    discharging, a lone ``setpoint`` is followed, so nothing beyond it on its side."""
    if period.get("operationMode") == "Idle":
        return Decimal(0), Decimal(0)
    limit = decimal_or_none(period.get("limit" + suffix))
    discharge = decimal_or_none(period.get("dischargeLimit" + suffix))
    setpoint = decimal_or_none(period.get("setpoint" + suffix))
    if limit is not None and limit >= 0:
        high = limit
    elif limit is not None:
        high = Decimal(0)
    else:
        high = max(setpoint, Decimal(0)) if setpoint is not None else _INF
    if discharge is not None:
        low = discharge
    elif limit is not None and limit < 0:
        low = limit
    else:
        low = min(setpoint, Decimal(0)) if setpoint is not None else Decimal(0)
    return low, high


def _intervals(
    schedule: Mapping[str, Any], base: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime, Mapping[str, Any]]]:
    start = schedule.get("startSchedule")
    origin = parse_datetime(start) if isinstance(start, str) else base
    duration = schedule.get("duration")
    end = (
        origin + dt.timedelta(seconds=duration)
        if isinstance(duration, int)
        else dt.datetime.max.replace(tzinfo=dt.UTC)
    )
    periods = sorted(schedule.get("chargingSchedulePeriod", []), key=lambda p: p["startPeriod"])
    out = []
    for i, period in enumerate(periods):
        begin = origin + dt.timedelta(seconds=period["startPeriod"])
        stop = (
            origin + dt.timedelta(seconds=periods[i + 1]["startPeriod"])
            if i + 1 < len(periods)
            else end
        )
        if begin < min(stop, end):
            out.append((begin, min(stop, end), period))
    return out


def schedule_within_limits(request: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """Whether the EV's schedule (a NotifyEVChargingScheduleRequest payload) stays within the
    profile csms sent (a SetChargingProfileRequest payload or its ``chargingProfile``).

    Each EV period's ``limit`` (and ``limit_L2``/``_L3``) must lie in the bounds of every sent
    period it overlaps in time; the EV's schedule starts at its ``startSchedule`` or the
    request's ``timeBase``. Outside the sent schedule csms set no limit. A schedule in another
    ``chargingRateUnit`` cannot be compared without the voltage: it is taken as within (the
    station has checked it, K15.FR.09).
    """
    profile = sent.get("chargingProfile", sent)
    schedules = profile.get("chargingSchedule", [])
    selected = request.get("selectedChargingScheduleId")
    ours = next(
        (s for s in schedules if s.get("id") == selected), schedules[0] if schedules else None
    )
    ev = request["chargingSchedule"]
    if ours is None or ev.get("chargingRateUnit") != ours.get("chargingRateUnit"):
        return True
    base = parse_datetime(request["timeBase"])
    sent_intervals = _intervals(ours, base)
    for begin, stop, ev_period in _intervals(ev, base):
        for sent_begin, sent_stop, sent_period in sent_intervals:
            if max(begin, sent_begin) >= min(stop, sent_stop):
                continue
            for suffix in _PHASE_SUFFIXES:
                value = decimal_or_none(ev_period.get("limit" + suffix))
                if value is None:
                    continue
                # A phase csms set no value for is bounded by the total.
                has_phase = any(k.endswith(suffix) for k in sent_period) if suffix else True
                low, high = _bounds(sent_period, suffix if has_phase else "")
                if not low <= value <= high:
                    return False
    return True


@attrs.frozen
class ScheduleDecision:
    """The NotifyEVChargingScheduleResponse status and whether to renegotiate (K16)."""

    status: Literal["Accepted", "Rejected"]
    renegotiate: bool

    def response(self) -> dict[str, Any]:
        return {"status": self.status}


def schedule_decision(
    request: Mapping[str, Any],
    sent: Mapping[str, Any] | None,
    *,
    renegotiations: int = 0,
    max_renegotiations: int = 1,
) -> ScheduleDecision:
    """Accepted when the EV's schedule is within the profile sent (K15.FR.11, K17.FR.11);
    Rejected otherwise (K15.FR.12, K17.FR.12), with a renegotiation (K15.FR.13: the profile
    sent again) unless ``max_renegotiations`` were already made for these needs, so a
    misbehaving EV cannot loop (and no profile goes out again without cause). Nothing sent
    yet: nothing to exceed."""
    if sent is None or schedule_within_limits(request, sent):
        return ScheduleDecision("Accepted", renegotiate=False)
    return ScheduleDecision("Rejected", renegotiate=renegotiations < max_renegotiations)
