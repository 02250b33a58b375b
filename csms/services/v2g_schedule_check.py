"""The EV's schedule (NotifyEVChargingSchedule) checked against the profile csms sent (pure):
K15.FR.11-13, K16.FR.06-08, K17.FR.11-13. ``v2g_profiles`` re-exports these names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from csms.protocol import parse_datetime

from ._v2g_json import decimal_or_none

__all__ = ["ScheduleDecision", "schedule_decision", "schedule_within_limits"]

_INF: Final = Decimal("Infinity")
_PHASE_SUFFIXES: Final = ("", "_L2", "_L3")


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
