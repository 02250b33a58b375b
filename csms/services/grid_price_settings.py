"""The grid price settings, read from the config file's ``[v2g.prices]`` table (pure).

The shape (every key optional; the shipped defaults in brackets)::

    [v2g.prices]
    distributor = "cemig"              # the sites' distributor (a code of the table below)
    submarket = "SE"                   # SE (SE/CO), S, NE, N; CCEE's names accepted too
    black_consciousness_day = true     # 20 Nov fora ponta (Lei 14.759/2023)
    gross_up = "single"                # or "cascaded"
    icms = 0.18                        # fractions; the operator's state and month
    pis = 0.0165
    cofins = 0.076
    bandeira_default = "verde"
    [v2g.prices.bandeiras]
    "2026-06" = "amarela"
    [v2g.prices.distributors.cemig]    # overrides or adds a distributor
    name = "CEMIG"
    ponta_start = "17:00"
    ponta = 1.20                       # R$/kWh before taxes and bandeira
    intermediario = 0.78
    fora_ponta = 0.52
    [v2g.prices.sources]               # price source per station group; "default" for the rest
    default = { kind = "regulated" }
    fleet = { kind = "pld", spread_rs_per_mwh = 50 }
    depot = { kind = "contract", ponta = 2.10, intermediario = 1.30, fora_ponta = 0.80 }

A bad value raises ``GridPriceSettingError`` naming the key (``v2g.prices.icms``). Numbers go to
``Decimal`` through their text, never through float arithmetic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

import attrs

from ._v2g_json import decimal_or_none
from .bandeiras import BandeiraCalendar, BandeiraError, parse_bandeira_months
from .br_calendar import HolidayCalendar
from .field_error import FieldError
from .pld import PldError, PldPrice, Submarket, parse_submarket
from .retail_price import (
    ContractSource,
    GridMarket,
    GrossUp,
    PldSource,
    PriceSource,
    RegulatedSource,
    TaxRates,
)
from .tarifa_branca import DISTRIBUTORS, DistributorTariff, Post

__all__ = ["PREFIX", "GridPriceSettingError", "GridPriceSettings", "parse_grid_price_settings"]

PREFIX: Final = "v2g.prices"
DEFAULT_GROUP: Final = "default"
#: Nominal rates; the operator sets its state's ICMS and the month's effective PIS/COFINS.
DEFAULT_TAXES: Final = TaxRates(Decimal("0.18"), Decimal("0.0165"), Decimal("0.076"))
_HHMM: Final = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class GridPriceSettingError(FieldError):
    """A bad grid price setting."""


@attrs.frozen
class GridPriceSettings:
    distributors: Mapping[str, DistributorTariff] = attrs.field(hash=False)
    distributor: str
    submarket: Submarket
    calendar: HolidayCalendar
    bandeiras: BandeiraCalendar
    taxes: TaxRates
    sources: Mapping[str, PriceSource] = attrs.field(hash=False)

    def source_for(self, group: str | None) -> PriceSource:
        """The price source of a station group; the default one for any other group."""
        return self.sources.get(group or DEFAULT_GROUP, self.sources[DEFAULT_GROUP])

    def market(
        self,
        tz: ZoneInfo,
        pld: Callable[[Submarket, dt.datetime], PldPrice],
        *,
        distributor: str | None = None,
        submarket: Submarket | None = None,
    ) -> GridMarket:
        """The market of the configured (or the given) distributor and submarket."""
        tariff = self.distributors[distributor or self.distributor]
        return GridMarket(
            tz, tariff, self.bandeiras, self.taxes, submarket or self.submarket, pld, self.calendar
        )


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise GridPriceSettingError(f"{PREFIX}.{key}", "must be a table")
    return value


def _decimal(value: Any, field: str) -> Decimal:
    number = value if isinstance(value, Decimal) else decimal_or_none(value)
    if number is None:
        raise GridPriceSettingError(field, f"{value!r} is no number")
    return number


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise GridPriceSettingError(field, f"{value!r} is no text")
    return value


def _distributor(code: str, raw: Any, base: DistributorTariff | None) -> DistributorTariff:
    field = f"{PREFIX}.distributors.{code}"
    if not isinstance(raw, Mapping):
        raise GridPriceSettingError(field, "must be a table")
    start = raw.get("ponta_start", base.ponta_start.strftime("%H:%M") if base else None)
    match = _HHMM.fullmatch(start) if isinstance(start, str) else None
    if match is None:
        raise GridPriceSettingError(f"{field}.ponta_start", f"{start!r} is not HH:MM")
    prices = []
    for post in Post:
        value = raw.get(post.value, base.price(post) if base else None)
        prices.append(_decimal(value, f"{field}.{post.value}"))
    name = _text(raw.get("name", base.name if base else code), f"{field}.name")
    try:
        return DistributorTariff(code, name, dt.time(int(match[1]), int(match[2])), *prices)
    except ValueError as exc:
        raise GridPriceSettingError(field, str(exc)) from None


def _source(group: str, raw: Any) -> PriceSource:
    field = f"{PREFIX}.sources.{group}"
    kind = raw.get("kind") if isinstance(raw, Mapping) else None
    if kind == "regulated":
        return RegulatedSource()
    if kind == "pld" and isinstance(raw, Mapping):
        spread = raw.get("spread_rs_per_mwh", 0)
        return PldSource(_decimal(spread, f"{field}.spread_rs_per_mwh"))
    if kind == "contract" and isinstance(raw, Mapping):
        prices = {p: _decimal(raw.get(p.value), f"{field}.{p.value}") for p in Post}
        if any(v < 0 for v in prices.values()):
            raise GridPriceSettingError(field, "contract prices must not be negative")
        return ContractSource(prices)
    raise GridPriceSettingError(f"{field}.kind", f"{kind!r} is not regulated, pld or contract")


def parse_grid_price_settings(raw: Mapping[str, Any]) -> GridPriceSettings:
    """The settings from the ``[v2g.prices]`` table (an empty table gives the defaults)."""
    distributors = dict(DISTRIBUTORS)
    for code, table in _table(raw, "distributors").items():
        distributors[code] = _distributor(code, table, DISTRIBUTORS.get(code))
    distributor = raw.get("distributor", "cemig")
    if not isinstance(distributor, str) or distributor not in distributors:
        names = ", ".join(sorted(distributors))
        raise GridPriceSettingError(
            f"{PREFIX}.distributor", f"{distributor!r} is not one of {names}"
        )
    try:
        submarket = parse_submarket(raw.get("submarket", "SE"), field=f"{PREFIX}.submarket")
        bandeiras = parse_bandeira_months(
            _table(raw, "bandeiras"), default=raw.get("bandeira_default", "verde")
        )
    except (PldError, BandeiraError) as exc:
        field = exc.field if exc.field.startswith(PREFIX) else f"{PREFIX}.{exc.field}"
        raise GridPriceSettingError(field, exc.message) from None
    holiday = raw.get("black_consciousness_day", True)
    if not isinstance(holiday, bool):
        raise GridPriceSettingError(f"{PREFIX}.black_consciousness_day", "must be true or false")
    sources: dict[str, PriceSource] = {DEFAULT_GROUP: RegulatedSource()}
    for group, table in _table(raw, "sources").items():
        sources[group] = _source(group, table)
    return GridPriceSettings(
        distributors, distributor, submarket, HolidayCalendar(holiday), bandeiras,
        _taxes(raw), sources,
    )  # fmt: skip


def _taxes(raw: Mapping[str, Any]) -> TaxRates:
    rates = {}
    for name in ("icms", "pis", "cofins"):
        default = getattr(DEFAULT_TAXES, name)
        rates[name] = _decimal(raw.get(name, default), f"{PREFIX}.{name}")
        if not 0 <= rates[name] < 1:
            raise GridPriceSettingError(f"{PREFIX}.{name}", "a rate is a fraction in [0, 1)")
    formula = raw.get("gross_up", GrossUp.SINGLE.value)
    if formula not in {g.value for g in GrossUp}:
        raise GridPriceSettingError(f"{PREFIX}.gross_up", f"{formula!r} is not single or cascaded")
    try:
        return TaxRates(rates["icms"], rates["pis"], rates["cofins"], GrossUp(formula))
    except ValueError as exc:
        raise GridPriceSettingError(f"{PREFIX}.icms", str(exc)) from None
