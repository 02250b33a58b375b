"""Compensation of a discharge session (csms/services/compensation.py): exported energy per
metering interval from the export register, priced interval by interval, the margin, one
rounding at the end; its settings."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.services.bandeiras import parse_bandeira_months
from csms.services.br_calendar import HolidayCalendar
from csms.services.compensation import (
    CompensationError,
    Margin,
    RegisterReading,
    compensate,
    parse_compensation_settings,
    pieces,
)
from csms.services.pld import Submarket, simulated_pld
from csms.services.retail_price import (
    ContractSource,
    GridMarket,
    PldSource,
    RegulatedSource,
    TaxRates,
    price_at,
)
from csms.services.tarifa_branca import DistributorTariff, Post

SP = ZoneInfo("America/Sao_Paulo")
# single gross-up 1 / (1 - 0.25) = 4 / 3
TAXES = TaxRates(Decimal("0.20"), Decimal("0.01"), Decimal("0.04"))
# a 17-20h distributor whose posts, with the amarela flag (0.01885), are 1.5, 0.75, 0.375 R$/kWh
# before taxes: 2.0, 1.0 and 0.5 after
SITE = DistributorTariff(
    "site", "Site", dt.time(17), Decimal("1.48115"), Decimal("0.73115"), Decimal("0.35615")
)
MARKET = GridMarket(
    SP,
    SITE,
    parse_bandeira_months({"2026-06": "amarela"}),
    TAXES,
    Submarket.SE,
    simulated_pld,
    HolidayCalendar(),
)
MARGIN = Margin(Decimal(10), Decimal("0.05"))


def local(day: int, hour: int, minute: int, month: int = 6) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SP)


def series(*points: tuple[dt.datetime, str]) -> list[RegisterReading]:
    return [RegisterReading(at, Decimal(wh)) for at, wh in points]


def test_a_session_across_the_ponta_start_is_priced_interval_by_interval_to_the_centavo():
    """Wednesday 10 June 2026 (amarela), 16:40-17:30 local: the interval 16:50-17:10 crosses
    the ponta's start and is shared 10/10 minutes between intermediário and ponta."""
    readings = series(
        (local(10, 16, 40), "10000.0"),
        (local(10, 16, 50), "11000.4"),  # 1000.4 Wh intermediário
        (local(10, 17, 10), "13400.9"),  # 2400.5 Wh: 1200.25 intermediário, 1200.25 ponta
        (local(10, 17, 30), "15201.3"),  # 1800.4 Wh ponta
    )
    result = compensate(readings, MARKET, RegulatedSource(), MARGIN)
    assert [(i.start, i.end, i.energy_wh) for i in result.intervals] == [
        (local(10, 16, 40), local(10, 16, 50), Decimal("1000.4")),
        (local(10, 16, 50), local(10, 17, 0), Decimal("1200.25")),
        (local(10, 17, 0), local(10, 17, 10), Decimal("1200.25")),
        (local(10, 17, 10), local(10, 17, 30), Decimal("1800.4")),
    ]
    assert [i.price.post for i in result.intervals] == [
        Post.INTERMEDIARIO, Post.INTERMEDIARIO, Post.PONTA, Post.PONTA,
    ]  # fmt: skip
    assert [i.price_rs_per_kwh for i in result.intervals] == [1, 1, 2, 2]
    assert result.exported_wh == Decimal("5201.3")
    # 2.20065 kWh x 1.0 + 3.00065 kWh x 2.0 = 8.20195
    assert result.gross_rs == Decimal("8.20")
    # 10 % of 8.20195 + 5.2013 kWh x 0.05 = 0.820195 + 0.260065 = 1.08026
    assert result.margin_rs == Decimal("1.08")
    assert result.net_rs == Decimal("7.12")
    assert not result.simulated


def test_readings_on_the_half_hours_are_not_cut_again():
    """5-minute readings 16:30-17:30 local: 12 pieces, the intervals themselves, six
    intermediário then six ponta (each half hour's price read once and shared)."""
    readings = [RegisterReading(local(10, 16, 30) + k * dt.timedelta(minutes=5),
                                Decimal(1000 + 600 * k)) for k in range(13)]  # fmt: skip
    result = compensate(readings, MARKET, RegulatedSource(), MARGIN)
    assert [(i.start, i.end) for i in result.intervals] == [
        (a.at, b.at) for a, b in itertools.pairwise(readings)
    ]
    assert [i.price.post for i in result.intervals] == [Post.INTERMEDIARIO] * 6 + [Post.PONTA] * 6
    assert result.gross_rs == Decimal("10.80")  # 3.6 kWh at 1.0 + 3.6 kWh at 2.0


def test_a_session_across_a_month_is_priced_with_each_months_bandeira():
    """31 May 2026 23:40 -> 1 June 00:20 (fora ponta): verde, then amarela from midnight."""
    readings = series((local(31, 23, 40, month=5), "0"), (local(1, 0, 20), "4000"))
    result = compensate(readings, MARKET, RegulatedSource(), Margin())
    first, second = result.intervals
    assert (first.energy_wh, second.energy_wh) == (2000, 2000)
    assert first.price.bandeira.value == "verde"
    assert second.price.bandeira.value == "amarela"
    # 2 kWh x 0.35615 / 0.75 + 2 kWh x 0.5 = 0.949733... + 1 = 1.949733... -> 1.95
    assert result.gross_rs == Decimal("1.95")
    assert (result.margin_rs, result.net_rs) == (0, Decimal("1.95"))


def test_rounding_once_differs_from_rounding_each_interval():
    """Three intervals worth R$ 0.005 each: rounded once 0.02 (0.015 half-even), rounded
    each (0.00 + 0.00 + 0.00 half-even) it would be nothing."""
    contract = ContractSource({p: Decimal("0.5") for p in Post})
    readings = series(
        (local(10, 10, 0), "0"),
        (local(10, 10, 10), "10"),
        (local(10, 10, 20), "20"),
        (local(10, 10, 30), "30"),
    )
    result = compensate(readings, MARKET, contract, Margin())
    assert [i.gross_rs for i in result.intervals] == [Decimal("0.005")] * 3
    assert result.gross_rs == Decimal("0.02")


def test_a_register_reset_exports_nothing_and_the_margin_never_exceeds_the_gross():
    readings = series(
        (local(10, 10, 0), "500"), (local(10, 10, 10), "100"), (local(10, 10, 20), "300")
    )
    contract = ContractSource({p: Decimal("0.01") for p in Post})
    result = compensate(readings, MARKET, contract, Margin(Decimal(0), Decimal(1)))
    assert [i.energy_wh for i in result.intervals] == [0, 200]
    assert result.gross_rs == 0  # 0.2 kWh x 0.01 = 0.002
    assert (result.margin_rs, result.net_rs) == (0, 0)


def test_the_pld_source_is_flagged_simulated():
    readings = series((local(10, 10, 0), "0"), (local(10, 10, 15), "1000"))
    result = compensate(readings, MARKET, PldSource(Decimal(50)), MARGIN)
    assert result.simulated
    assert result.source.value == "pld"


@pytest.mark.parametrize(
    ("readings", "field"),
    [
        ([RegisterReading(dt.datetime(2026, 6, 10, 10), Decimal(0))], "readings.0.at"),
        (
            [
                RegisterReading(local(10, 10, 0), Decimal(0)),
                RegisterReading(local(10, 9, 0), Decimal(1)),
            ],
            "readings.1.at",
        ),
        ([RegisterReading(local(10, 10, 0), Decimal(-1))], "readings.0.exportRegisterWh"),
        ([RegisterReading(local(10, 10, 0), Decimal("NaN"))], "readings.0.exportRegisterWh"),
    ],
)
def test_bad_readings_name_the_field(readings, field):
    with pytest.raises(CompensationError) as caught:
        compensate(readings, MARKET, RegulatedSource(), MARGIN)
    assert caught.value.field == field


def test_settings_margin_and_station_groups():
    parsed = parse_compensation_settings(
        {
            "margin_percent": "12.5",
            "margin_rs_per_kwh": 0.04,
            "station_groups": {"fleet": ["FLEET-*"], "depot": "DEPOT1"},
        }
    )
    assert parsed.margin == Margin(Decimal("12.5"), Decimal("0.04"))
    assert parsed.group_of("FLEET-07") == "fleet"
    assert parsed.group_of("DEPOT1") == "depot"
    assert parsed.group_of("CP001") is None
    assert parse_compensation_settings({}).margin == Margin()
    for raw, field in (
        ({"margin_percent": 101}, "v2g.compensation.margin_percent"),
        ({"margin_rs_per_kwh": "x"}, "v2g.compensation.margin_rs_per_kwh"),
        ({"station_groups": {"a": [1]}}, "v2g.compensation.station_groups.a"),
        ({"marjin": 1}, "v2g.compensation.marjin"),
    ):
        with pytest.raises(CompensationError) as caught:
            parse_compensation_settings(raw)
        assert caught.value.field == field


START = dt.datetime(2026, 5, 31, 20, tzinfo=dt.UTC)


@st.composite
def register_series(draw: st.DrawFn) -> list[RegisterReading]:
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(1, 4 * 3600 * 1000),  # ms to the next reading
                st.decimals(-500, 20000, places=3, allow_nan=False),  # register change, Wh
            ),
            min_size=0,
            max_size=12,
        )
    )
    at, wh = START + dt.timedelta(seconds=draw(st.integers(0, 86400))), Decimal(1000)
    readings = [RegisterReading(at, wh)]
    for ms, change in steps:
        at, wh = at + dt.timedelta(milliseconds=ms), max(wh + change, Decimal(0))
        readings.append(RegisterReading(at, wh))
    return readings


SOURCES = st.sampled_from(
    [RegulatedSource(), PldSource(Decimal(-20)), ContractSource({p: Decimal("0.7") for p in Post})]
)
MARGINS = st.builds(
    Margin, st.decimals(0, 100, places=2), st.decimals(0, 2, places=4, allow_nan=False)
)


@settings(max_examples=400, deadline=None)
@given(register_series(), SOURCES, MARGINS)
def test_property_energy_adds_up_money_is_rounded_once_and_never_negative(readings, source, margin):
    result = compensate(readings, MARKET, source, margin)
    rises = sum(
        (max(b.export_register_wh - a.export_register_wh, Decimal(0)))
        for a, b in itertools.pairwise(readings)
    )
    assert all(i.energy_wh >= 0 and i.end > i.start for i in result.intervals)
    assert result.exported_wh == rises == sum(i.energy_wh for i in result.intervals)
    # the pieces tile the session, each inside one UTC half hour
    if result.intervals:
        assert result.intervals[0].start == readings[0].at
        assert result.intervals[-1].end == readings[-1].at
    for before, after in itertools.pairwise(result.intervals):
        assert before.end == after.start
    for i in result.intervals:
        utc = i.start.astimezone(dt.UTC)
        slot = utc.replace(minute=30 if utc.minute >= 30 else 0, second=0, microsecond=0)
        assert i.end <= slot + dt.timedelta(minutes=30)
    exact = sum((i.gross_rs for i in result.intervals), Decimal(0))
    assert result.gross_rs == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert 0 <= result.margin_rs <= result.gross_rs
    assert result.net_rs == result.gross_rs - result.margin_rs >= 0
    assert len(pieces(readings)) == len(result.intervals)
    # one price read per half hour is the price each piece has at its own start
    for i in result.intervals:
        own = price_at(MARKET, source, i.start)
        assert (i.price.post, i.price_rs_per_kwh) == (own.post, own.retail_rs_per_kwh)
