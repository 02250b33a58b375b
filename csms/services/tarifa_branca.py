"""ANEEL's Tarifa Branca: the post (ponta, intermediário, fora ponta) of an instant (pure).

On working days (``br_calendar``) a distributor's **ponta** is 3 consecutive hours, the
**intermediário** is the hour before and the hour after it, and the rest of the day is **fora
ponta**; Saturdays, Sundays and the rule's holidays are fora ponta all day. The post is read in the
operator's local time (an IANA zone, setting ``v2g.time_zone``): 17:00 in São Paulo is 20:00 UTC.

Each distributor has its own ponta window and its own R$/kWh per post (TE + TUSD, before taxes and
bandeira), homologated by ANEEL every tariff cycle. ``DISTRIBUTORS`` ships the ponta windows of a
few distributors; its prices are **indicative** (one order-of-magnitude set for all of them, not
any distributor's homologated values): the operator sets its own distributor's values in config.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from .br_calendar import HolidayCalendar

__all__ = [
    "DISTRIBUTORS",
    "INDICATIVE_PRICES",
    "DistributorTariff",
    "Post",
    "local_time",
    "post_at",
]

#: Minutes of the intermediário on each side of the ponta, and of the ponta itself (REN 1000).
INTERMEDIARIO_MINUTES: Final = 60
PONTA_MINUTES: Final = 180


class Post(enum.StrEnum):
    """The tariff posts, named as the REST API writes them."""

    PONTA = "ponta"
    INTERMEDIARIO = "intermediario"
    FORA_PONTA = "fora_ponta"


def _ponta_start(value: dt.time) -> dt.time:
    # The intermediário before and after must fit in the same day: the post of an instant is
    # then decided by its own local day alone (every Brazilian ponta starts between 17 and 20 h).
    # On the hour or the half hour, so that an hour is at most two posts, half an hour each.
    minutes = value.hour * 60 + value.minute
    if (
        value.minute not in (0, 30)
        or value.second
        or value.microsecond
        or not INTERMEDIARIO_MINUTES <= minutes <= 24 * 60 - PONTA_MINUTES - INTERMEDIARIO_MINUTES
    ):
        raise ValueError(f"ponta_start {value} must be HH:00 or HH:30 between 01:00 and 20:00")
    return value


def _price(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise ValueError(f"a post price must be a non-negative Decimal, not {value!r}")
    return value


@attrs.frozen
class DistributorTariff:
    """A distributor's ponta window (start; 3 hours long) and its R$/kWh per post, before taxes."""

    code: str
    name: str
    ponta_start: dt.time = attrs.field(converter=_ponta_start)
    ponta_rs_per_kwh: Decimal = attrs.field(converter=_price)
    intermediario_rs_per_kwh: Decimal = attrs.field(converter=_price)
    fora_ponta_rs_per_kwh: Decimal = attrs.field(converter=_price)

    @property
    def ponta_end(self) -> dt.time:
        minutes = self.ponta_start.hour * 60 + self.ponta_start.minute + PONTA_MINUTES
        return dt.time(minutes // 60 % 24, minutes % 60)

    def price(self, post: Post) -> Decimal:
        if post is Post.PONTA:
            return self.ponta_rs_per_kwh
        if post is Post.INTERMEDIARIO:
            return self.intermediario_rs_per_kwh
        return self.fora_ponta_rs_per_kwh

    def post_on_working_day(self, minute_of_day: int) -> Post:
        start = self.ponta_start.hour * 60 + self.ponta_start.minute
        if start <= minute_of_day < start + PONTA_MINUTES:
            return Post.PONTA
        before = start - INTERMEDIARIO_MINUTES
        after = start + PONTA_MINUTES + INTERMEDIARIO_MINUTES
        if before <= minute_of_day < after:
            return Post.INTERMEDIARIO
        return Post.FORA_PONTA


def local_time(at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``at`` (timezone-aware) in the operator's zone; a naive time is a programming error."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone")
    return at.astimezone(tz)


def post_at(
    tariff: DistributorTariff, at: dt.datetime, tz: ZoneInfo, calendar: HolidayCalendar
) -> Post:
    """The post at instant ``at`` for ``tariff``, read in the operator's time zone ``tz``."""
    local = local_time(at, tz)
    if not calendar.is_working_day(local.date()):
        return Post.FORA_PONTA
    return tariff.post_on_working_day(local.hour * 60 + local.minute)


#: R$/kWh before taxes and bandeira (ponta, intermediário, fora ponta): an indicative set of the
#: right order of magnitude for a low-voltage B1 consumer, the same for every shipped distributor.
INDICATIVE_PRICES: Final = (Decimal("1.20"), Decimal("0.78"), Decimal("0.52"))


def _shipped(code: str, name: str, start: dt.time) -> DistributorTariff:
    ponta, intermediario, fora_ponta = INDICATIVE_PRICES
    return DistributorTariff(code, name, start, ponta, intermediario, fora_ponta)


#: Shipped ponta windows by distributor code (the operator checks its own distributor's).
DISTRIBUTORS: Final = {
    t.code: t
    for t in (
        _shipped("cemig", "CEMIG Distribuição (MG)", dt.time(17)),
        _shipped("light", "Light (RJ)", dt.time(17, 30)),
        _shipped("enel_sp", "Enel Distribuição São Paulo", dt.time(17, 30)),
        _shipped("enel_rj", "Enel Distribuição Rio", dt.time(18)),
        _shipped("cpfl_paulista", "CPFL Paulista (SP)", dt.time(18)),
        _shipped("equatorial_ma", "Equatorial Maranhão", dt.time(18)),
        _shipped("amazonas", "Amazonas Energia", dt.time(20)),
    )
}
