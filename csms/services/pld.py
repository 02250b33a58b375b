"""The CCEE's hourly PLD (Preço de Liquidação das Diferenças) per submarket (pure).

Rows come from CCEE's open-data portal (CKAN dataset ``pld_horario``): ``MES_REFERENCIA``
(YYYYMM), ``SUBMERCADO`` (SUDESTE, SUL, NORDESTE, NORTE), ``DIA`` (a day number, or
``dd/mm/yyyy`` in some years' resources), ``HORA`` (0-23, Brasília time) and ``PLD_HORA`` (R$/MWh).
``parse_ccee_rows`` turns them into ``PldPrice`` values, keeping the rows it cannot read apart
with the reason, so one malformed row never loses a month.

Every value is clamped to its year's regulatory floor and hourly ceiling (ANEEL's yearly
resolution; ``PLD_LIMITS``); the structural cap applies to the daily average.
When CCEE cannot be reached, ``simulated_pld`` gives a deterministic curve per submarket,
``source="simulated"``: whatever answer uses it says so, and a cached CCEE value is never replaced
by a simulated one (``prefer_ccee``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import attrs

from .field_error import FieldError

__all__ = [
    "CCEE_TIME_ZONE",
    "PLD_LIMITS",
    "PldError",
    "PldLimits",
    "PldOrigin",
    "PldPrice",
    "PldTable",
    "RejectedRow",
    "Submarket",
    "clamp",
    "limits_for",
    "parse_ccee_row",
    "parse_ccee_rows",
    "parse_submarket",
    "prefer_ccee",
    "simulated_pld",
    "within_daily_cap",
]

#: CCEE's hours are Brasília time whatever the operator's zone is.
CCEE_TIME_ZONE: Final = ZoneInfo("America/Sao_Paulo")

PldOrigin = Literal["ccee", "simulated"]


class Submarket(enum.StrEnum):
    """The four submarkets, by the short names the REST API uses (SE is SE/CO)."""

    SE = "SE"
    S = "S"
    NE = "NE"
    N = "N"


_SUBMARKET_NAMES: Final = {
    "SE": Submarket.SE,
    "SE/CO": Submarket.SE,
    "SECO": Submarket.SE,
    "SUDESTE": Submarket.SE,
    "SUDESTE/CENTRO-OESTE": Submarket.SE,
    "S": Submarket.S,
    "SUL": Submarket.S,
    "NE": Submarket.NE,
    "NORDESTE": Submarket.NE,
    "N": Submarket.N,
    "NORTE": Submarket.N,
}


class PldError(FieldError):
    """A value that is no PLD input; ``field`` names it."""


def parse_submarket(text: Any, *, field: str = "submarket") -> Submarket:
    """SE, SE/CO, S, NE, N or CCEE's SUDESTE, SUL, NORDESTE, NORTE (any case)."""
    name = text.strip().upper() if isinstance(text, str) else None
    if name is None or name not in _SUBMARKET_NAMES:
        raise PldError(field, f"{text!r} is no submarket (SE, S, NE, N)")
    return _SUBMARKET_NAMES[name]


@attrs.frozen
class PldLimits:
    """A year's limits in R$/MWh: hourly floor and ceiling, structural cap on the daily average."""

    year: int
    floor: Decimal
    hourly_ceiling: Decimal
    daily_average_cap: Decimal


PLD_LIMITS: Final = {
    limits.year: limits
    for limits in (
        PldLimits(2024, Decimal("61.07"), Decimal("1470.57"), Decimal("716.80")),
        PldLimits(2025, Decimal("58.60"), Decimal("1542.23"), Decimal("751.73")),
        PldLimits(2026, Decimal("57.31"), Decimal("1611.04"), Decimal("785.27")),
    )
}


def limits_for(year: int, table: Mapping[int, PldLimits] = PLD_LIMITS) -> PldLimits:
    """The year's limits; a year not in the table uses the nearest year before it (the latest
    resolution stays in force until the next), or the earliest for years before the table."""
    known = sorted(table)
    before = [y for y in known if y <= year]
    return table[before[-1] if before else known[0]]


def clamp(value: Decimal, limits: PldLimits) -> Decimal:
    return min(max(value, limits.floor), limits.hourly_ceiling)


@attrs.frozen
class PldPrice:
    """The PLD of the hour starting at ``start`` (UTC), clamped, in R$/MWh."""

    submarket: Submarket
    start: dt.datetime
    rs_per_mwh: Decimal
    source: PldOrigin

    @property
    def simulated(self) -> bool:
        return self.source == "simulated"


@attrs.frozen
class RejectedRow:
    index: int
    reason: str


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PldError(field, f"{value!r} is no number")
    text = str(value).strip()
    if isinstance(value, str) and "," in text:  # "1.234,56" as Brazilian spreadsheets write it
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PldError(field, f"{value!r} is no number") from None
    if not number.is_finite():
        raise PldError(field, f"{value!r} is no number")
    return number


def _integer(value: Any, field: str) -> int:
    number = _number(value, field)
    if number != number.to_integral_value():
        raise PldError(field, f"{value!r} is no whole number")
    return int(number)


_DAY_MONTH_YEAR: Final = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _day(value: Any, year: int, month: int) -> int:
    if isinstance(value, str) and (match := _DAY_MONTH_YEAR.fullmatch(value.strip())):
        day, m, y = int(match[1]), int(match[2]), int(match[3])
        if (y, m) != (year, month):
            raise PldError("DIA", f"{value!r} is outside MES_REFERENCIA {year}{month:02d}")
        return day
    return _integer(value, "DIA")


def parse_ccee_row(row: Mapping[str, Any], table: Mapping[int, PldLimits] = PLD_LIMITS) -> PldPrice:
    """One ``pld_horario`` record as a clamped ``PldPrice``; ``PldError`` names a bad field."""
    reference = str(_integer(row.get("MES_REFERENCIA"), "MES_REFERENCIA"))
    if len(reference) != 6:
        raise PldError("MES_REFERENCIA", f"{reference!r} is not YYYYMM")
    year, month = int(reference[:4]), int(reference[4:])
    submarket = parse_submarket(row.get("SUBMERCADO"), field="SUBMERCADO")
    day = _day(row.get("DIA"), year, month)
    hour = _integer(row.get("HORA"), "HORA")
    if not 0 <= hour <= 23:
        raise PldError("HORA", f"{hour} is not 0-23")
    try:
        local = dt.datetime(year, month, day, hour, tzinfo=CCEE_TIME_ZONE)
    except ValueError as exc:
        raise PldError("DIA", str(exc)) from None
    value = _number(row.get("PLD_HORA"), "PLD_HORA")
    start = local.astimezone(dt.UTC)
    return PldPrice(submarket, start, clamp(value, limits_for(year, table)), "ccee")


def parse_ccee_rows(
    rows: Iterable[Mapping[str, Any]], table: Mapping[int, PldLimits] = PLD_LIMITS
) -> tuple[list[PldPrice], list[RejectedRow]]:
    """The rows it can read, and the others with why (logged and counted by the caller)."""
    prices: list[PldPrice] = []
    rejected: list[RejectedRow] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            rejected.append(RejectedRow(index, "row: is no object"))
            continue
        try:
            prices.append(parse_ccee_row(row, table))
        except PldError as exc:
            rejected.append(RejectedRow(index, str(exc)))
    return prices, rejected


def prefer_ccee(cached: PldPrice | None, incoming: PldPrice) -> PldPrice:
    """What the cache keeps for an hour: a CCEE value is never replaced by a simulated one."""
    if cached is not None and cached.source == "ccee" and incoming.source == "simulated":
        return cached
    return incoming


# The simulated curve: a base per submarket times an hourly shape that follows the recent pattern
# of the PLD (low at midday, when solar floods the grid; high in the evening ramp), plus a small
# weekday variation. Deterministic: the same hour always gets the same value.
_BASE: Final = {
    Submarket.SE: Decimal(180),
    Submarket.S: Decimal(170),
    Submarket.NE: Decimal(150),
    Submarket.N: Decimal(160),
}
_SHAPE: Final = tuple(
    Decimal(x)
    for x in (
        "0.90", "0.85", "0.82", "0.80", "0.80", "0.85", "0.90", "0.80", "0.60", "0.45",
        "0.35", "0.30", "0.30", "0.32", "0.40", "0.55", "0.85", "1.40", "2.00", "2.20",
        "1.90", "1.50", "1.20", "1.00",
    )
)  # fmt: skip
_WEEKDAY: Final = (
    Decimal("1.00"), Decimal("1.04"), Decimal("1.02"), Decimal("1.06"), Decimal("1.03"),
    Decimal("0.90"), Decimal("0.85"),
)  # fmt: skip


def simulated_pld(
    submarket: Submarket, at: dt.datetime, table: Mapping[int, PldLimits] = PLD_LIMITS
) -> PldPrice:
    """The simulated PLD of the hour containing ``at`` (aware), clamped like a CCEE value."""
    local = at.astimezone(CCEE_TIME_ZONE).replace(minute=0, second=0, microsecond=0)
    value = _BASE[submarket] * _SHAPE[local.hour] * _WEEKDAY[local.weekday()]
    limits = limits_for(local.year, table)
    return PldPrice(submarket, local.astimezone(dt.UTC), clamp(value, limits), "simulated")


def within_daily_cap(values: Sequence[PldPrice], limits: PldLimits) -> bool:
    """Whether a day's hourly values keep the structural cap on the daily average."""
    total = sum((p.rs_per_mwh for p in values), Decimal(0))
    return not values or total / len(values) <= limits.daily_average_cap


@attrs.frozen
class PldTable:
    """Known hourly prices (the ``v2g_grid_prices`` cache) with the simulated curve for the
    hours it lacks: the PLD lookup a ``GridMarket`` is given."""

    prices: Mapping[tuple[Submarket, dt.datetime], PldPrice] = attrs.field(factory=dict, hash=False)
    limits: Mapping[int, PldLimits] = attrs.field(default=PLD_LIMITS, hash=False)

    @classmethod
    def of(
        cls, prices: Iterable[PldPrice], limits: Mapping[int, PldLimits] = PLD_LIMITS
    ) -> PldTable:
        table: dict[tuple[Submarket, dt.datetime], PldPrice] = {}
        for price in prices:
            key = (price.submarket, price.start)
            table[key] = prefer_ccee(table.get(key), price)
        return cls(table, limits)

    def __call__(self, submarket: Submarket, at: dt.datetime) -> PldPrice:
        start = at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        known = self.prices.get((submarket, start))
        return known if known is not None else simulated_pld(submarket, at, self.limits)
