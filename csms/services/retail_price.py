"""The price of discharged energy at an instant, a 24-hour forecast and the best hours (pure).

Under ANEEL's current rules an EV battery earns no SCEE credit for what it discharges, so the
owner's payment is the operator's own incentive and its price source is configuration, per
station group:

- ``regulated``: the Tarifa Branca post price plus the month's bandeira, grossed up with the
  taxes (the cost a behind-the-meter site avoids);
- ``pld``: the hour's PLD plus a spread (R$/MWh), converted to R$/kWh and grossed up;
- ``contract``: a fixed R$/kWh per post, taken as it is (the contract states it with taxes).

The gross-up puts ICMS, PIS and COFINS on a price that excludes them ("por dentro"), with either
formula of ``GrossUp``. Prices are ``Decimal`` at full precision; money (``value_rs``) is rounded
once, to the centavo, half-even.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from .bandeiras import Bandeira, BandeiraCalendar
from .br_calendar import HolidayCalendar
from .pld import PldPrice, Submarket
from .tarifa_branca import DistributorTariff, Post, local_time, post_at

__all__ = [
    "CENTAVO",
    "ContractSource",
    "GridMarket",
    "GridPrice",
    "GrossUp",
    "PldSource",
    "PriceSource",
    "PriceSourceKind",
    "RegulatedSource",
    "TaxRates",
    "gross_up",
    "price_at",
    "value_rs",
]

CENTAVO: Final = Decimal("0.01")


class GrossUp(enum.StrEnum):
    """How the taxes go on a price p.

    ``single``: p / (1 - (ICMS + PIS + COFINS)); ``cascaded``: p / ((1 - ICMS)(1 - (PIS + COFINS))).
    """

    SINGLE = "single"
    CASCADED = "cascaded"


def _rate(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value < 1:
        raise ValueError(f"a tax rate is a Decimal fraction in [0, 1), not {value!r}")
    return value


@attrs.frozen
class TaxRates:
    """ICMS, PIS and COFINS as fractions (18 % -> Decimal("0.18")) and the gross-up formula."""

    icms: Decimal = attrs.field(converter=_rate)
    pis: Decimal = attrs.field(converter=_rate)
    cofins: Decimal = attrs.field(converter=_rate)
    formula: GrossUp = GrossUp.SINGLE

    def __attrs_post_init__(self) -> None:
        if self.icms + self.pis + self.cofins >= 1:
            raise ValueError("ICMS + PIS + COFINS must stay below 100 %")


def gross_up(price: Decimal, taxes: TaxRates) -> Decimal:
    """``price`` (before taxes) with the taxes put on it, unrounded."""
    if taxes.formula is GrossUp.CASCADED:
        return price / ((1 - taxes.icms) * (1 - (taxes.pis + taxes.cofins)))
    return price / (1 - (taxes.icms + taxes.pis + taxes.cofins))


def value_rs(energy_kwh: Decimal, price_rs_per_kwh: Decimal) -> Decimal:
    """Money for energy at a price: the one rounding, to the centavo, half-even."""
    return (energy_kwh * price_rs_per_kwh).quantize(CENTAVO, rounding=ROUND_HALF_EVEN)


class PriceSourceKind(enum.StrEnum):
    REGULATED = "regulated"
    PLD = "pld"
    CONTRACT = "contract"


@attrs.frozen
class RegulatedSource:
    kind: PriceSourceKind = attrs.field(default=PriceSourceKind.REGULATED, init=False)


@attrs.frozen
class PldSource:
    """PLD + ``spread_rs_per_mwh`` (may be negative), grossed up."""

    spread_rs_per_mwh: Decimal = Decimal(0)
    kind: PriceSourceKind = attrs.field(default=PriceSourceKind.PLD, init=False)


def _post_prices(value: Mapping[Post, Decimal]) -> Mapping[Post, Decimal]:
    if set(value) != set(Post) or any(p < 0 or not p.is_finite() for p in value.values()):
        raise ValueError("a contract names a non-negative R$/kWh for each post")
    return dict(value)


@attrs.frozen
class ContractSource:
    """A fixed R$/kWh per post (taxes included, as the contract states it)."""

    rs_per_kwh: Mapping[Post, Decimal] = attrs.field(converter=_post_prices, hash=False)
    kind: PriceSourceKind = attrs.field(default=PriceSourceKind.CONTRACT, init=False)


PriceSource = RegulatedSource | PldSource | ContractSource


@attrs.frozen
class GridMarket:
    """What prices an instant at one site: the operator's zone and calendar, the distributor, the
    bandeiras, the taxes and the site's submarket with a PLD per hour (cache, else simulated)."""

    tz: ZoneInfo
    distributor: DistributorTariff
    bandeiras: BandeiraCalendar
    taxes: TaxRates
    submarket: Submarket
    pld: Callable[[Submarket, dt.datetime], PldPrice] = attrs.field(eq=False, hash=False)
    calendar: HolidayCalendar = attrs.field(factory=HolidayCalendar)


@attrs.frozen
class GridPrice:
    """Every component of the price at ``at`` and the retail R$/kWh of the chosen source."""

    at: dt.datetime
    distributor: str
    post: Post
    tariff_rs_per_kwh: Decimal
    bandeira: Bandeira
    bandeira_rs_per_kwh: Decimal
    pld: PldPrice
    source: PriceSourceKind
    retail_rs_per_kwh: Decimal

    @property
    def is_peak(self) -> bool:
        return self.post is Post.PONTA

    @property
    def simulated(self) -> bool:
        """True when the price rests on a simulated PLD (only the ``pld`` source does)."""
        return self.source is PriceSourceKind.PLD and self.pld.simulated


def price_at(market: GridMarket, source: PriceSource, at: dt.datetime) -> GridPrice:
    """The price at instant ``at`` (aware) by ``source``."""
    local_time(at, market.tz)  # refuses a naive time before anything is priced with it
    post = post_at(market.distributor, at, market.tz, market.calendar)
    tariff = market.distributor.price(post)
    flag = market.bandeiras.flag_at(at, market.tz)
    pld = market.pld(market.submarket, at)
    if isinstance(source, RegulatedSource):
        retail = gross_up(tariff + flag.rs_per_kwh, market.taxes)
    elif isinstance(source, PldSource):
        retail = gross_up((pld.rs_per_mwh + source.spread_rs_per_mwh) / 1000, market.taxes)
    else:
        retail = source.rs_per_kwh[post]
    return GridPrice(
        at=at,
        distributor=market.distributor.code,
        post=post,
        tariff_rs_per_kwh=tariff,
        bandeira=flag,
        bandeira_rs_per_kwh=flag.rs_per_kwh,
        pld=pld,
        source=source.kind,
        retail_rs_per_kwh=retail,
    )
