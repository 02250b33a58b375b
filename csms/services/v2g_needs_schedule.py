"""The schedule that answers an EV's charging needs: its energy spread to the departure (pure).

K15 is "charging with load leveling": the EV's needs (ChargeParameterDiscoveryReq, relayed as
NotifyEVChargingNeedsRequest) carry the energy it wants and when it leaves, and the CSMS
answers with a TxProfile whose schedule the EV then follows (K15.FR.07, K17.FR.07). csms
spreads the energy needed evenly over the time to the departure instead of drawing the
station's full power at once (the load the grid sees is levelled), and charges at full power
when the time is too short for that.

- **Energy needed** (``energy_needed_wh``): the larger of the EV's request
  (``energyAmount`` of the AC/DC parameters, ``evTargetEnergyRequest`` in 2.1) and what the
  owner's ``departureEnergyKwh`` still lacks (that energy minus the battery's content when the
  EV reported its SoC and capacity; the whole of it otherwise, so the owner's need is never
  under-estimated).
- **Departure** (``departure_at``): the EV's ``departureTime``, else the owner's default
  ``departureTime`` (local, in the operator's time zone), its next occurrence after now.
- **Periods** (``needs_periods``): ``(startPeriod s, limit W)``. With both known and the
  departure ahead: the even power ceil(energy / time) from now to the departure (never below
  the EV's minimum charge power, at which it could not charge), then full power (the EV is
  still plugged in: nothing to level for any more); a single full-power period otherwise. At
  most ``max_periods`` periods (K15.FR.07: maxScheduleTuples and
  ``SmartChargingCtrlr.PeriodsPerSchedule``); no limit is ever above ``max_w``, the lower of
  the EV's and the station's maximum.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from typing import Final

from .v2g_preferences import V2GPreferences
from .v2x_capability import EVCapability

__all__ = [
    "MAX_NEEDS_PERIODS",
    "departure_at",
    "energy_needed_wh",
    "needs_periods",
    "periods_allowed",
]

#: The periods csms puts in a needs schedule at most: the spread and the full power after it.
MAX_NEEDS_PERIODS: Final = 2
_HUNDRED: Final = Decimal(100)
_SECONDS_PER_HOUR: Final = Decimal(3600)


def energy_needed_wh(
    capability: EVCapability, preferences: V2GPreferences | None
) -> Decimal | None:
    """The energy to deliver before the departure, Wh; None when neither the EV nor its owner
    said (then there is nothing to spread)."""
    candidates: list[Decimal] = []
    if capability.energy_request_wh is not None:
        candidates.append(capability.energy_request_wh)
    wanted = None if preferences is None else preferences.departure_energy_wh
    if wanted is not None:
        soc, capacity = capability.state_of_charge, capability.battery_capacity_wh
        held = Decimal(0) if soc is None or capacity is None else capacity * soc / _HUNDRED
        candidates.append(max(wanted - held, Decimal(0)))
    return max(candidates, default=None)


def departure_at(
    capability: EVCapability,
    preferences: V2GPreferences | None,
    *,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> dt.datetime | None:
    """When the EV leaves: its own ``departureTime``, else the owner's default time of day in
    the operator's zone, next after ``now``; None when neither is known."""
    if capability.departure_time is not None:
        return capability.departure_time
    clock = None if preferences is None else preferences.departure_time
    if clock is None:
        return None
    local = now.astimezone(tz)
    at = dt.datetime.combine(local.date(), clock, tzinfo=tz)
    if at <= local:
        at = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=tz)
    return at.astimezone(dt.UTC)


def periods_allowed(*bounds: int | None) -> int:
    """How many periods a schedule may have: the smallest positive bound given (the EV's
    ``maxScheduleTuples``, the station's ``PeriodsPerSchedule``), at most
    ``MAX_NEEDS_PERIODS``."""
    return min([MAX_NEEDS_PERIODS, *(b for b in bounds if b is not None and b > 0)])


def needs_periods(
    *,
    energy_wh: Decimal | None,
    departure: dt.datetime | None,
    now: dt.datetime,
    max_w: Decimal,
    min_w: Decimal | None = None,
    max_periods: int = MAX_NEEDS_PERIODS,
) -> list[tuple[int, Decimal]]:
    """The periods ``(startPeriod s, limit W)`` of the schedule answering the needs.

    Never above ``max_w``; the needed energy by the departure whenever ``max_w`` can deliver
    it in the time left; full power throughout when it cannot, or when the energy or the
    departure is unknown or past.
    """
    if max_w < 0:
        raise ValueError("a charging maximum is not negative")
    full = [(0, max_w)]
    if energy_wh is None or departure is None or energy_wh <= 0:
        return full
    # Whole seconds, rounded down: the spread power then errs towards finishing early.
    seconds = int((departure - now).total_seconds())
    if seconds <= 0:
        return full
    even = (energy_wh * _SECONDS_PER_HOUR / seconds).to_integral_value(rounding=ROUND_CEILING)
    if min_w is not None:
        even = max(even, min_w)
    if even >= max_w:
        return full  # too little time to level anything: as fast as allowed
    return [(0, even), (seconds, max_w)][: max(1, max_periods)]
