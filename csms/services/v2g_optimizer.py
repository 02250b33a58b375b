"""The V2G optimizer's planner (pure): when each plugged-in, capable, opted-in EV discharges,
at what power (SPEC section 6, docs/V2G.md "Optimizer").

Input: the EVs (``EVState``: SoC now, battery capacity if known, the EV's discharge limits),
each owner's preferences (``V2GPreferences``), an hourly price forecast (``PriceHour``, from the
prices actor's ``Forecast``) and the current time. Output: per EV the discharge intervals with
their power (``EVPlan``), or the reason it gets none.

The plan fills the dearest hours first (an earlier hour wins a tie) with the EV's power
(min(the owner's maximum, the EV's maximum)), subject to every preference, none of which a plan
ever breaks (tests/services/test_v2g_optimizer_properties.py):

- energy: at most what lies above the SoC floor, and above the energy needed by departure
  (``soc * capacity - departureEnergy``), and at most what the EV itself offers above its V2X
  minimum (``-evMinV2XEnergyRequest``). A capacity that is unknown bounds nothing, so such an EV
  is planned only when the EV states its V2X energy and the owner set no departure energy; its
  session still stops at the floor on the EV's SoC readings. An unknown SoC plans nothing.
- only inside the owner's windows (operator-local), and before departure (the owner's
  ``departureTime``, or the EV's own, whichever is sooner);
- contiguous intervals are one discharge session, one cycle, counted on the local day it
  starts: at most ``maxCyclesPerDay`` per day, less the sessions already started today (a
  session running now goes on without a new cycle);
- an hour's energy below the EV's minimum discharge power is not planned; the last (cheapest)
  hour chosen may run below the full power, for the energy that is left.

Only hours worth discharging are used: dearer than the forecast's cheapest hour (where the
energy would be bought back) by more than ``min_spread_rs_per_kwh``.

Units: power W, energy Wh, money R$ (``Decimal``), instants aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Final, Literal

import attrs

from .price_forecast import HourForecast
from .v2g_preferences import DischargeWindow, V2GPreferences, next_window_start, window_end

__all__ = [
    "EVPlan",
    "EVState",
    "NoPlan",
    "PlanInterval",
    "Planner",
    "PriceHour",
    "plan_fleet",
    "price_hours",
]

_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)
_US_PER_HOUR: Final = Decimal(3_600_000_000)
_CENTAVO: Final = Decimal("0.01")
_MILLIWATT: Final = Decimal("0.001")
_US: Final = dt.timedelta(microseconds=1)

#: Why an EV gets no plan.
NoPlan = Literal[
    "not_opted_in",
    "not_capable",
    "soc_unknown",
    "at_floor",
    "battery_unknown",
    "departure_energy",
    "no_power",
    "no_hours",
]


@attrs.frozen
class PriceHour:
    """One forecast hour and its price (R$/kWh of the configured price source)."""

    start: dt.datetime
    end: dt.datetime
    rs_per_kwh: Decimal


def price_hours(forecast: Iterable[HourForecast]) -> tuple[PriceHour, ...]:
    """The planner's view of the prices actor's forecast."""
    return tuple(PriceHour(h.start, h.end, h.retail_rs_per_kwh) for h in forecast)


@attrs.frozen
class EVState:
    """A plugged-in EV as the optimizer sees it."""

    station_id: str
    evse_id: int
    user_id: str
    soc_percent: Decimal | None
    #: None: unknown (2.1 AC EVs do not state it).
    battery_wh: Decimal | None
    #: The EV's maximum discharge power; None: only the owner's maximum applies.
    max_discharge_w: Decimal | None
    min_discharge_w: Decimal = _ZERO
    #: The energy the EV offers above its own V2X minimum (``-evMinV2XEnergyRequest``).
    v2x_energy_wh: Decimal | None = None
    #: The EV and its station can discharge (a BPT mode, the station's modes or declaration).
    capable: bool = True
    #: Discharge sessions of the owner already started this local day.
    cycles_today: int = 0
    #: The optimizer's session discharges it now: going on is no new cycle.
    discharging: bool = False
    #: When the EV says it leaves (its charging needs), if it said.
    departure: dt.datetime | None = None


@attrs.frozen
class PlanInterval:
    start: dt.datetime
    end: dt.datetime
    power_w: Decimal
    energy_wh: Decimal


@attrs.frozen
class EVPlan:
    """One EV's plan: intervals in time order (contiguous ones are one session), the energy and
    its value (R$, rounded once), the energy budget it had; ``reason`` when there is none."""

    station_id: str
    evse_id: int
    user_id: str
    intervals: tuple[PlanInterval, ...]
    energy_wh: Decimal
    value_rs: Decimal
    budget_wh: Decimal
    reason: NoPlan | None = None

    def due(self, now: dt.datetime) -> PlanInterval | None:
        """The interval to discharge in at ``now``, if any."""
        for interval in self.intervals:
            if interval.start <= now < interval.end:
                return interval
        return None

    def sessions(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The contiguous runs of intervals: one discharge session each."""
        runs: list[tuple[dt.datetime, dt.datetime]] = []
        for i in self.intervals:
            if runs and runs[-1][1] == i.start:
                runs[-1] = (runs[-1][0], i.end)
            else:
                runs.append((i.start, i.end))
        return runs


@attrs.frozen
class _Slot:
    """A piece of a forecast hour an EV may discharge in (a window or ``now`` may cut it)."""

    start: dt.datetime
    end: dt.datetime
    hours: Decimal
    price: Decimal


def _hours(start: dt.datetime, end: dt.datetime) -> Decimal:
    return Decimal((end - start) // _US) / _US_PER_HOUR


def _fit(energy_wh: Decimal, hours: Decimal) -> Decimal:
    """The power (whole mW, rounded down) that gives at most ``energy_wh`` in ``hours``."""
    watts = (energy_wh / hours).quantize(_MILLIWATT, rounding=ROUND_DOWN)
    while watts > 0 and watts * hours > energy_wh:  # the division's own rounding
        watts -= _MILLIWATT
    return watts


class Planner:
    """Plans against one forecast at one instant; what EVs share (the ranked hours, the
    windows' spans, the local days) is computed once for the whole fleet."""

    def __init__(
        self,
        hours: Sequence[PriceHour],
        now: dt.datetime,
        tz: dt.tzinfo,
        *,
        min_spread_rs_per_kwh: Decimal = _ZERO,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        self.now = now
        self.tz = tz
        current = [h for h in hours if h.end > now]
        self.horizon_end = max((h.end for h in current), default=now)
        floor = min((h.rs_per_kwh for h in hours), default=_ZERO) + min_spread_rs_per_kwh
        self._ranked = sorted(
            (h for h in current if h.rs_per_kwh > floor), key=lambda h: (-h.rs_per_kwh, h.start)
        )
        self._slots: dict[tuple[DischargeWindow, ...], list[_Slot]] = {}
        self._days: dict[dt.datetime, dt.date] = {}
        self._departures: dict[dt.time, dt.datetime] = {}

    # -- what EVs share --------------------------------------------------------------------

    def _spans(self, windows: tuple[DischargeWindow, ...]) -> list[tuple[dt.datetime, ...]]:
        """The allowed stretches from now to the horizon's end (UTC)."""
        if not windows:
            return [(self.now, self.horizon_end)]
        spans: list[tuple[dt.datetime, ...]] = []
        at = self.now
        while at < self.horizon_end:
            start = next_window_start(windows, at, self.tz)
            if start is None or start >= self.horizon_end:
                break
            end = window_end(windows, start, self.tz) or self.horizon_end
            if end <= start:  # cannot happen for a start a window contains; never loop
                break
            spans.append((start, min(end, self.horizon_end)))
            at = end
        return spans

    def slots(self, windows: tuple[DischargeWindow, ...]) -> list[_Slot]:
        """The pieces of the valuable hours inside the windows, dearest first."""
        cached = self._slots.get(windows)
        if cached is not None:
            return cached
        spans = self._spans(windows)
        slots = []
        for h in self._ranked:
            for span_start, span_end in spans:
                start, end = max(h.start, span_start, self.now), min(h.end, span_end)
                if start < end:
                    slots.append(_Slot(start, end, _hours(start, end), h.rs_per_kwh))
        self._slots[windows] = slots
        return slots

    def day(self, at: dt.datetime) -> dt.date:
        """The operator-local day of ``at`` (what cycles per day count in)."""
        day = self._days.get(at)
        if day is None:
            day = self._days[at] = at.astimezone(self.tz).date()
        return day

    def _departure(self, ev: EVState, prefs: V2GPreferences) -> dt.datetime | None:
        """The sooner of the EV's departure and the owner's next ``departureTime``."""
        leaves = ev.departure
        clock = prefs.departure_time
        if clock is not None:
            at = self._departures.get(clock)
            if at is None:
                local = self.now.astimezone(self.tz)
                at = dt.datetime.combine(local.date(), clock, tzinfo=self.tz).astimezone(dt.UTC)
                if at <= self.now:
                    day = local.date() + dt.timedelta(days=1)
                    at = dt.datetime.combine(day, clock, tzinfo=self.tz).astimezone(dt.UTC)
                self._departures[clock] = at
            leaves = at if leaves is None else min(leaves, at)
        return leaves

    # -- one EV ----------------------------------------------------------------------------

    def budget(self, ev: EVState, prefs: V2GPreferences) -> tuple[Decimal, NoPlan | None]:
        """The energy the EV may give (Wh), or why none."""
        if not prefs.opt_in:
            return _ZERO, "not_opted_in"
        if not ev.capable:
            return _ZERO, "not_capable"
        soc = ev.soc_percent
        if soc is None:
            return _ZERO, "soc_unknown"
        if soc <= prefs.min_soc_percent:
            return _ZERO, "at_floor"
        bounds: list[Decimal] = []
        battery = ev.battery_wh
        if battery is not None:
            bounds.append((soc - prefs.min_soc_percent) * battery / _HUNDRED)
            if prefs.departure_energy_wh is not None:
                bounds.append(soc * battery / _HUNDRED - prefs.departure_energy_wh)
        elif prefs.departure_energy_wh is not None:
            return _ZERO, "battery_unknown"  # the energy left at departure cannot be known
        if ev.v2x_energy_wh is not None:
            bounds.append(ev.v2x_energy_wh)
        if not bounds:
            return _ZERO, "battery_unknown"
        budget = min(bounds)
        if budget <= 0:
            return _ZERO, "departure_energy" if battery is not None else "at_floor"
        return budget, None

    def plan(self, ev: EVState, prefs: V2GPreferences) -> EVPlan:
        budget, reason = self.budget(ev, prefs)
        power = prefs.max_discharge_w
        if ev.max_discharge_w is not None:
            power = min(power, ev.max_discharge_w)
        if reason is None and (power <= 0 or power < ev.min_discharge_w):
            reason = "no_power"
        chosen: list[tuple[_Slot, Decimal]] = []
        if reason is None:
            chosen = self._choose(ev, prefs, budget, power)
            if not chosen:
                reason = "no_hours"
        chosen.sort(key=lambda c: c[0].start)
        intervals: list[PlanInterval] = []
        energy = value = _ZERO
        for slot, watts in chosen:
            wh = watts * slot.hours
            energy += wh
            value += wh * slot.price
            last = intervals[-1] if intervals else None
            if last is not None and last.end == slot.start and last.power_w == watts:
                intervals[-1] = attrs.evolve(last, end=slot.end, energy_wh=last.energy_wh + wh)
            else:
                intervals.append(PlanInterval(slot.start, slot.end, watts, wh))
        return EVPlan(
            station_id=ev.station_id,
            evse_id=ev.evse_id,
            user_id=ev.user_id,
            intervals=tuple(intervals),
            energy_wh=energy,
            value_rs=(value / 1000).quantize(_CENTAVO, rounding=ROUND_HALF_EVEN),
            budget_wh=budget,
            reason=reason,
        )

    def _choose(
        self, ev: EVState, prefs: V2GPreferences, budget: Decimal, power: Decimal
    ) -> list[tuple[_Slot, Decimal]]:
        """The dearest slots first, each at full power (the last one at what is left), as long
        as no local day gets more sessions than the owner allows."""
        leaves = self._departure(ev, prefs)
        today = self.day(self.now)
        allowed = prefs.max_cycles_per_day
        runs: dict[dt.date, int] = {}
        by_start: dict[dt.datetime, _Slot] = {}
        by_end: dict[dt.datetime, _Slot | None] = {}
        if ev.discharging:
            by_end[self.now] = None  # the running session: its start is counted already
        chosen: list[tuple[_Slot, Decimal]] = []
        left = budget
        for slot in self.slots(prefs.windows):
            if leaves is not None and slot.end > leaves:
                if slot.start >= leaves:
                    continue
                slot = _Slot(slot.start, leaves, _hours(slot.start, leaves), slot.price)
            watts = power if power * slot.hours <= left else _fit(left, slot.hours)
            if watts <= 0 or watts < ev.min_discharge_w:
                continue
            changes = self._run_changes(slot, by_start, by_end)
            if any(
                runs.get(day, 0) + n > allowed - (ev.cycles_today if day == today else 0)
                for day, n in changes.items()
                if n > 0
            ):
                continue
            for day, n in changes.items():
                runs[day] = runs.get(day, 0) + n
            by_start[slot.start] = slot
            by_end[slot.end] = slot
            chosen.append((slot, watts))
            left -= watts * slot.hours
            if left <= 0:
                break
        return chosen

    def _run_changes(
        self,
        slot: _Slot,
        by_start: Mapping[dt.datetime, _Slot],
        by_end: Mapping[dt.datetime, _Slot | None],
    ) -> dict[dt.date, int]:
        """How the sessions per local day change when ``slot`` joins the chosen ones: a new
        run counts on its start day; joining the run after it moves that run's start to the
        slot's; bridging two runs makes one."""
        has_left = slot.start in by_end
        right = by_start.get(slot.end)
        changes: dict[dt.date, int] = {}
        if right is not None:
            day = self.day(right.start)
            changes[day] = changes.get(day, 0) - 1
        if not has_left:
            day = self.day(slot.start)
            changes[day] = changes.get(day, 0) + 1
        return changes


def plan_fleet(
    evs: Iterable[tuple[EVState, V2GPreferences]],
    hours: Sequence[PriceHour],
    now: dt.datetime,
    tz: dt.tzinfo,
    *,
    min_spread_rs_per_kwh: Decimal = _ZERO,
) -> tuple[EVPlan, ...]:
    """Every EV's plan against one forecast at ``now``."""
    planner = Planner(hours, now, tz, min_spread_rs_per_kwh=min_spread_rs_per_kwh)
    return tuple(planner.plan(ev, prefs) for ev, prefs in evs)
