"""Tariff flags (bandeiras tarifárias): the month's surcharge on every kWh (pure).

ANEEL announces each month's flag at the end of the previous month; the operator writes it in
config as ``{"2026-06": "amarela", ...}``. The flag applies to every hour of that month in the
operator's local time (the month changes at local midnight); a month not listed is ``default``
(verde unless configured). Surcharges in R$ per 100 kWh, as ANEEL publishes them:
verde 0, amarela 1,885, vermelha patamar 1 4,463, vermelha patamar 2 7,877, escassez hídrica 14,20.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from .field_error import FieldError
from .tarifa_branca import local_time

__all__ = [
    "RS_PER_100_KWH",
    "Bandeira",
    "BandeiraCalendar",
    "BandeiraError",
    "parse_bandeira_months",
]


class Bandeira(enum.StrEnum):
    VERDE = "verde"
    AMARELA = "amarela"
    VERMELHA_P1 = "vermelha_p1"
    VERMELHA_P2 = "vermelha_p2"
    ESCASSEZ_HIDRICA = "escassez_hidrica"

    @property
    def rs_per_kwh(self) -> Decimal:
        """The surcharge per kWh, exact (R$ 1,885 per 100 kWh -> 0.01885)."""
        return RS_PER_100_KWH[self] / 100


RS_PER_100_KWH: Final = MappingProxyType(
    {
        Bandeira.VERDE: Decimal(0),
        Bandeira.AMARELA: Decimal("1.885"),
        Bandeira.VERMELHA_P1: Decimal("4.463"),
        Bandeira.VERMELHA_P2: Decimal("7.877"),
        Bandeira.ESCASSEZ_HIDRICA: Decimal("14.20"),
    }
)

_MONTH: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class BandeiraError(FieldError):
    """A bad flag setting; ``field`` names it (``bandeiras.2026-13``)."""


def _months(value: Mapping[tuple[int, int], Bandeira]) -> Mapping[tuple[int, int], Bandeira]:
    return MappingProxyType(dict(value))


@attrs.frozen
class BandeiraCalendar:
    """The flag of each configured (year, month); ``default`` for the others."""

    months: Mapping[tuple[int, int], Bandeira] = attrs.field(
        factory=dict, converter=_months, hash=False
    )
    default: Bandeira = Bandeira.VERDE

    def flag_at(self, at: dt.datetime, tz: ZoneInfo) -> Bandeira:
        local = local_time(at, tz)
        return self.months.get((local.year, local.month), self.default)


def parse_bandeira_months(raw: Mapping[str, Any], *, default: str = "verde") -> BandeiraCalendar:
    """``{"2026-06": "amarela"}`` from config; a bad key or flag raises ``BandeiraError``."""
    months: dict[tuple[int, int], Bandeira] = {}
    for key, value in raw.items():
        match = _MONTH.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            raise BandeiraError(f"bandeiras.{key}", "a month is written YYYY-MM")
        months[int(match[1]), int(match[2])] = _flag(f"bandeiras.{key}", value)
    return BandeiraCalendar(months, _flag("bandeiras.default", default))


def _flag(field: str, value: Any) -> Bandeira:
    try:
        return Bandeira(value)
    except ValueError:
        names = ", ".join(b.value for b in Bandeira)
        raise BandeiraError(field, f"{value!r} is not a flag ({names})") from None
