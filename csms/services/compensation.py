"""What a discharge session pays its EV's owner (pure): exported energy per metering interval
times that interval's price, minus the operator's margin.

The energy comes from the export register (``Energy.Active.Export.Register``): an interval's
energy is the difference of two consecutive readings, never an integral of power samples. A
register that goes down (a meter reset) exports nothing over that interval: the owner is never
charged for a discharge.

Prices change at most every half hour: the Tarifa Branca posts start on the hour or the half
hour, the PLD is hourly, the bandeira changes with the month at local midnight, and Brazil's
zones are whole hours from UTC. So a metering interval is cut at the UTC half hours it crosses
and its energy shared between the pieces in proportion to their duration (the register tells
nothing finer); each piece has one price, read at its start
(once per half hour: the pieces of one half hour share it). A session across a post boundary
or from one month (bandeira) into the next is thus priced piece by piece.

Money is ``Decimal`` throughout, unrounded until the end: the gross (sum of every piece's energy
times its price) and the margin are each rounded once, to the centavo, half-even, and the net is
their difference, so gross = margin + net holds in centavos.

The margin is a percentage of the gross and/or R$ per exported kWh (``[v2g.compensation]``);
it never exceeds the gross, so the net is never negative.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from fnmatch import fnmatchcase
from typing import Any, Final

import attrs

from ._v2g_json import decimal_or_none
from .field_error import FieldError
from .retail_price import CENTAVO, GridMarket, GridPrice, PriceSource, PriceSourceKind, price_at

__all__ = [
    "PREFIX",
    "Compensation",
    "CompensationError",
    "CompensationSettings",
    "Margin",
    "PricedInterval",
    "RegisterReading",
    "compensate",
    "parse_compensation_settings",
    "pieces",
    "plain",
]

PREFIX: Final = "v2g.compensation"
SLOT: Final = dt.timedelta(minutes=30)
_KILO: Final = Decimal(1000)
_HUNDRED: Final = Decimal(100)
_ZERO: Final = Decimal(0)
_EPOCH: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
#: A piece's share of an interval's energy is kept to the µWh, rounded down, so what the last
#: piece takes (the interval's energy minus the others' shares) is exact and never negative.
SHARE_PLACES: Final = Decimal("0.000001")


class CompensationError(FieldError):
    """Readings or settings that cannot be priced; ``field`` names the culprit."""


@attrs.frozen
class RegisterReading:
    """One reading of the export register: at ``at`` (aware), ``export_register_wh`` Wh."""

    at: dt.datetime
    export_register_wh: Decimal


def _margin_value(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"a margin is a non-negative Decimal, not {value!r}")
    return value


@attrs.frozen
class Margin:
    """The operator's margin: ``percent`` of the gross plus ``rs_per_kwh`` per exported kWh."""

    percent: Decimal = attrs.field(default=_ZERO, converter=_margin_value)
    rs_per_kwh: Decimal = attrs.field(default=_ZERO, converter=_margin_value)

    def __attrs_post_init__(self) -> None:
        if self.percent > _HUNDRED:
            raise ValueError("a margin percentage is at most 100")


@attrs.frozen
class PricedInterval:
    """A piece of a metering interval with one price; ``gross_rs`` unrounded."""

    start: dt.datetime
    end: dt.datetime
    energy_wh: Decimal
    price: GridPrice

    @property
    def price_rs_per_kwh(self) -> Decimal:
        return self.price.retail_rs_per_kwh

    @property
    def gross_rs(self) -> Decimal:
        return self.energy_wh / _KILO * self.price.retail_rs_per_kwh


@attrs.frozen
class Compensation:
    intervals: tuple[PricedInterval, ...]
    exported_wh: Decimal
    gross_rs: Decimal
    margin_rs: Decimal
    net_rs: Decimal
    source: PriceSourceKind
    margin: Margin

    @property
    def simulated(self) -> bool:
        """True when some price rests on a simulated PLD (the ``pld`` source only)."""
        return any(i.price.simulated for i in self.intervals)


def _slot_end(at: dt.datetime) -> dt.datetime:
    """The first UTC half hour after ``at`` (aware; the difference of aware times is UTC's)."""
    return _EPOCH + ((at - _EPOCH) // SLOT + 1) * SLOT


def pieces(
    readings: Sequence[RegisterReading],
) -> list[tuple[dt.datetime, dt.datetime, Decimal]]:
    """Each metering interval cut at the UTC half hours, with its share of the energy (Wh).

    A share is kept to the µWh and the last piece of an interval takes what the others left,
    so the pieces of an interval add up to its energy exactly."""
    return [(start, end, energy) for start, end, energy, _ in _cut(readings)]


def _cut(
    readings: Sequence[RegisterReading],
) -> list[tuple[dt.datetime, dt.datetime, Decimal, dt.datetime]]:
    """``pieces``, each with the end of its UTC half hour (the key of its price)."""
    _check(readings)
    found: list[tuple[dt.datetime, dt.datetime, Decimal, dt.datetime]] = []
    slot: dt.datetime | None = None
    for before, after in itertools.pairwise(readings):
        energy = max(after.export_register_wh - before.export_register_wh, _ZERO)
        start, left, stop = before.at, energy, after.at
        # the previous interval ended (at ``start``) in the half hour ending at ``slot``, or
        # at its end: no need to work the half hour out again
        if slot is None:
            slot = _slot_end(start)
        elif slot == start:
            slot += SLOT
        if slot < stop:  # cut: shares in proportion to time
            span = _micros(stop - start)
            while slot < stop:
                share = (energy * _micros(slot - start) / span).quantize(SHARE_PLACES, ROUND_FLOOR)
                found.append((start, slot, share, slot))
                left -= share
                start, slot = slot, slot + SLOT
        found.append((start, stop, left, slot))
    return found


def _micros(span: dt.timedelta) -> Decimal:
    return Decimal(span // dt.timedelta(microseconds=1))


def _check(readings: Sequence[RegisterReading]) -> None:
    for i, r in enumerate(readings):
        field = f"readings.{i}"
        if r.at.tzinfo is None or r.at.utcoffset() is None:
            raise CompensationError(f"{field}.at", "needs a time zone (Z or an offset)")
        value = r.export_register_wh
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise CompensationError(f"{field}.exportRegisterWh", "must be a number >= 0")
        if i and r.at <= readings[i - 1].at:
            raise CompensationError(f"{field}.at", "readings must be in strictly rising time")


def compensate(
    readings: Sequence[RegisterReading],
    market: GridMarket,
    source: PriceSource,
    margin: Margin,
) -> Compensation:
    """The compensation of a session whose export register read ``readings`` (time order)."""
    # one price per half hour: every piece of a slot has the price read at the slot's first
    # piece (prices are constant within a UTC half hour, see above), so a session of 5-minute
    # readings reads 2 prices an hour instead of 12
    prices: dict[dt.datetime, GridPrice] = {}
    priced_list = []
    for start, end, energy, slot in _cut(readings):
        price = prices.get(slot)
        if price is None:
            price = prices[slot] = price_at(market, source, start)
        priced_list.append(PricedInterval(start, end, energy, price))
    priced = tuple(priced_list)
    exported = sum((p.energy_wh for p in priced), _ZERO)
    # the sum of energy times price, then one division (Wh to kWh is exact in Decimal)
    gross_exact = sum((p.energy_wh * p.price.retail_rs_per_kwh for p in priced), _ZERO) / _KILO
    margin_exact = gross_exact * margin.percent / _HUNDRED + exported / _KILO * margin.rs_per_kwh
    gross = _centavos(gross_exact)
    margin_rs = min(_centavos(margin_exact), gross)
    return Compensation(
        intervals=priced,
        exported_wh=exported,
        gross_rs=gross,
        margin_rs=margin_rs,
        net_rs=gross - margin_rs,
        source=source.kind,
        margin=margin,
    )


def plain(value: Decimal) -> str:
    """A quantity as a decimal string without exponent or trailing zeros (5.201300 -> 5.2013);
    money keeps its centavos (str of the rounded value)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _centavos(value: Decimal) -> Decimal:
    return value.quantize(CENTAVO, rounding=ROUND_HALF_EVEN)


# -- settings ------------------------------------------------------------------------------------


@attrs.frozen
class CompensationSettings:
    """``[v2g.compensation]``: the margin, and which stations form which price group
    (``[v2g.prices.sources]`` names the groups' price sources)::

        [v2g.compensation]
        margin_percent = 10          # of the gross
        margin_rs_per_kwh = 0.05     # per exported kWh
        sweep_interval_s = 60        # how often sessions without a compensation are looked for
        [v2g.compensation.station_groups]
        fleet = ["FLEET-*"]          # station ids or shell patterns; the first match wins
    """

    margin: Margin = attrs.field(factory=Margin)
    station_groups: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, hash=False)
    sweep_interval_s: float = 60.0

    def group_of(self, station_id: str) -> str | None:
        """The group ``station_id`` belongs to; None: the default group."""
        for group, patterns in self.station_groups.items():
            if any(fnmatchcase(station_id, p) for p in patterns):
                return group
        return None


def _number(raw: Mapping[str, Any], key: str, default: Decimal) -> Decimal:
    value = raw.get(key, default)
    number = value if isinstance(value, Decimal) else decimal_or_none(value)
    if number is None or number < 0:
        raise CompensationError(f"{PREFIX}.{key}", f"{value!r} is not a number >= 0")
    return number


def parse_compensation_settings(raw: Mapping[str, Any]) -> CompensationSettings:
    """The settings from the ``[v2g.compensation]`` table (empty: no margin, one group)."""
    known = {"margin_percent", "margin_rs_per_kwh", "station_groups", "sweep_interval_s"}
    for key in raw:
        if key not in known:
            names = ", ".join(sorted(known))
            raise CompensationError(f"{PREFIX}.{key}", f"unknown setting (known: {names})")
    percent = _number(raw, "margin_percent", _ZERO)
    if percent > _HUNDRED:
        raise CompensationError(f"{PREFIX}.margin_percent", "must be at most 100")
    margin = Margin(percent, _number(raw, "margin_rs_per_kwh", _ZERO))
    sweep = _number(raw, "sweep_interval_s", Decimal(60))
    if sweep <= 0:
        raise CompensationError(f"{PREFIX}.sweep_interval_s", "must be greater than 0")
    groups = raw.get("station_groups", {})
    if not isinstance(groups, Mapping):
        raise CompensationError(f"{PREFIX}.station_groups", "must be a table")
    parsed: dict[str, tuple[str, ...]] = {}
    for group, patterns in groups.items():
        parsed[group] = _patterns(patterns, f"{PREFIX}.station_groups.{group}")
    return CompensationSettings(margin, parsed, float(sweep))


def _patterns(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable) or not all(isinstance(p, str) and p for p in value):
        raise CompensationError(field, "must be a list of station ids or patterns")
    return tuple(value)
