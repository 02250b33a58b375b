"""The hourly price forecast and the best hours to discharge (pure).

A forecast hour starts on a whole UTC hour (Brazil's zones are whole hours from UTC, so it is a
whole local hour too). A distributor whose ponta starts on the half hour (Light, Enel SP:
17:30-20:30) splits hours in two posts, so an hour's price is the mean of its two half hours
(exact: the PLD and the bandeira do not change within an hour), ``post`` is the post at the
hour's start and ``is_peak`` says whether any part of the hour is ponta.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from typing import Final

import attrs

from .retail_price import GridMarket, GridPrice, PriceSource, price_at, value_rs
from .tarifa_branca import Post, local_time

__all__ = ["DischargePlan", "HourForecast", "PlannedHour", "best_discharge_hours", "forecast"]

HOUR: Final = dt.timedelta(hours=1)
HALF_HOUR: Final = dt.timedelta(minutes=30)
MAX_HOURS: Final = 168  # a week: beyond, the bandeira and the PLD are guesses anyway


@attrs.frozen
class HourForecast:
    start: dt.datetime
    end: dt.datetime
    post: Post
    is_peak: bool
    retail_rs_per_kwh: Decimal
    simulated: bool
    halves: tuple[GridPrice, GridPrice]


def _hour(market: GridMarket, source: PriceSource, start: dt.datetime) -> HourForecast:
    first = price_at(market, source, start)
    second = price_at(market, source, start + HALF_HOUR)
    return HourForecast(
        start=start,
        end=start + HOUR,
        post=first.post,
        is_peak=first.is_peak or second.is_peak,
        retail_rs_per_kwh=(first.retail_rs_per_kwh + second.retail_rs_per_kwh) / 2,
        simulated=first.simulated or second.simulated,
        halves=(first, second),
    )


def forecast(
    market: GridMarket, source: PriceSource, start: dt.datetime, hours: int = 24
) -> tuple[HourForecast, ...]:
    """``hours`` hourly prices from the UTC hour containing ``start`` (aware)."""
    if not 1 <= hours <= MAX_HOURS:
        raise ValueError(f"hours must be 1-{MAX_HOURS}, not {hours}")
    first = local_time(start, dt.UTC).replace(minute=0, second=0, microsecond=0)
    return tuple(_hour(market, source, first + i * HOUR) for i in range(hours))


@attrs.frozen
class PlannedHour:
    start: dt.datetime
    end: dt.datetime
    energy_wh: Decimal
    retail_rs_per_kwh: Decimal


@attrs.frozen
class DischargePlan:
    """The chosen hours in time order, the energy they hold, what is missing, their value (R$)."""

    hours: tuple[PlannedHour, ...]
    energy_wh: Decimal
    shortfall_wh: Decimal
    value_rs: Decimal
    simulated: bool


def best_discharge_hours(
    hours: tuple[HourForecast, ...],
    window_start: dt.datetime,
    window_end: dt.datetime,
    power_w: Decimal,
    energy_wh: Decimal,
) -> DischargePlan:
    """The most valuable whole forecast hours inside [window_start, window_end) to discharge
    ``energy_wh`` at ``power_w``: ceil(energy / power) hours, the dearest first (an earlier hour
    wins a tie); every hour but the cheapest chosen one runs at full power."""
    if not (power_w > 0 and energy_wh > 0):
        raise ValueError("power and energy must be positive")
    inside = [h for h in hours if h.start >= window_start and h.end <= window_end]
    needed = int((energy_wh / power_w).to_integral_value(rounding=ROUND_CEILING))
    ranked = sorted(inside, key=lambda h: (-h.retail_rs_per_kwh, h.start))[:needed]
    planned: list[PlannedHour] = []
    remaining = energy_wh
    for h in ranked:
        energy = min(power_w, remaining)  # one hour at power_w W is power_w Wh
        remaining -= energy
        planned.append(PlannedHour(h.start, h.end, energy, h.retail_rs_per_kwh))
    planned.sort(key=lambda p: p.start)
    total = sum((p.energy_wh / 1000 * p.retail_rs_per_kwh for p in planned), Decimal(0))
    return DischargePlan(
        hours=tuple(planned),
        energy_wh=energy_wh - remaining,
        shortfall_wh=remaining,
        value_rs=value_rs(total, Decimal(1)),  # the one rounding, of the sum
        simulated=any(h.simulated for h in ranked),
    )
