"""CCEE PLD rows: both DIA formats, submarket names, the yearly clamp, the simulated curve."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from csms.services.pld import (
    PLD_LIMITS,
    PldError,
    PldPrice,
    PldTable,
    Submarket,
    clamp,
    limits_for,
    parse_ccee_row,
    parse_ccee_rows,
    parse_submarket,
    prefer_ccee,
    simulated_pld,
    within_daily_cap,
)

UTC = dt.UTC


def row(**fields):
    base = {
        "MES_REFERENCIA": 202606,
        "SUBMERCADO": "SUDESTE",
        "DIA": 10,
        "HORA": 18,
        "PLD_HORA": Decimal("312.45"),
    }
    return base | fields


def test_a_row_with_a_day_number_is_the_brasilia_hour_in_utc():
    price = parse_ccee_row(row())
    assert price == PldPrice(
        Submarket.SE, dt.datetime(2026, 6, 10, 21, tzinfo=UTC), Decimal("312.45"), "ccee"
    )
    assert not price.simulated


def test_a_row_with_a_dd_mm_yyyy_day_reads_the_same():
    assert parse_ccee_row(row(DIA="10/06/2026")) == parse_ccee_row(row())
    assert parse_ccee_row(row(DIA="1/6/2026", HORA=0)).start == dt.datetime(
        2026, 6, 1, 3, tzinfo=UTC
    )


def test_text_numbers_with_comma_decimals_and_string_fields():
    price = parse_ccee_row(row(MES_REFERENCIA="202606", DIA="10", HORA="18", PLD_HORA="1.234,56"))
    assert price.rs_per_mwh == Decimal("1234.56")
    assert parse_ccee_row(row(PLD_HORA="99.5")).rs_per_mwh == Decimal("99.5")


@pytest.mark.parametrize(
    ("name", "submarket"),
    [
        ("SUDESTE", Submarket.SE),
        ("SUL", Submarket.S),
        ("NORDESTE", Submarket.NE),
        ("NORTE", Submarket.N),
        ("SE", Submarket.SE),
        ("se/co", Submarket.SE),
        ("S", Submarket.S),
        ("ne", Submarket.NE),
        (" N ", Submarket.N),
    ],
)
def test_submarket_names(name, submarket):
    assert parse_submarket(name) is submarket


@pytest.mark.parametrize("name", ["CO", "", None, 1, "SUDOESTE"])
def test_unknown_submarkets_are_refused(name):
    with pytest.raises(PldError) as caught:
        parse_submarket(name)
    assert caught.value.field == "submarket"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"MES_REFERENCIA": "2026-06"}, "MES_REFERENCIA"),
        ({"MES_REFERENCIA": 20266}, "MES_REFERENCIA"),
        ({"SUBMERCADO": "CENTRO"}, "SUBMERCADO"),
        ({"DIA": "10/07/2026"}, "DIA"),
        ({"DIA": 31}, "DIA"),
        ({"DIA": "dez"}, "DIA"),
        ({"HORA": 24}, "HORA"),
        ({"HORA": 1.5}, "HORA"),
        ({"PLD_HORA": None}, "PLD_HORA"),
        ({"PLD_HORA": "NaN"}, "PLD_HORA"),
        ({"PLD_HORA": True}, "PLD_HORA"),
    ],
)
def test_malformed_rows_name_the_field(fields, field):
    with pytest.raises(PldError) as caught:
        parse_ccee_row(row(**fields))
    assert caught.value.field == field


def test_parse_rows_keeps_the_good_and_sets_apart_the_bad():
    prices, rejected = parse_ccee_rows([row(), row(HORA=25), "junk", row(HORA=19)])
    assert [p.start.hour for p in prices] == [21, 22]
    assert [(r.index, r.reason.split(":")[0]) for r in rejected] == [(1, "HORA"), (2, "row")]


@pytest.mark.parametrize(
    ("year", "floor", "ceiling", "cap"),
    [
        (2024, "61.07", "1470.57", "716.80"),
        (2025, "58.60", "1542.23", "751.73"),
        (2026, "57.31", "1611.04", "785.27"),
    ],
)
def test_yearly_limits_clamp_rows(year, floor, ceiling, cap):
    limits = limits_for(year)
    assert (limits.floor, limits.hourly_ceiling, limits.daily_average_cap) == tuple(
        map(Decimal, (floor, ceiling, cap))
    )
    low = parse_ccee_row(row(MES_REFERENCIA=year * 100 + 6, PLD_HORA=Decimal("0.01")))
    high = parse_ccee_row(row(MES_REFERENCIA=year * 100 + 6, PLD_HORA=Decimal("99999")))
    assert (low.rs_per_mwh, high.rs_per_mwh) == (Decimal(floor), Decimal(ceiling))


def test_years_outside_the_table_use_the_nearest_known_year():
    assert limits_for(2031) is PLD_LIMITS[2026]
    assert limits_for(2020) is PLD_LIMITS[2024]
    assert clamp(Decimal(100), PLD_LIMITS[2026]) == 100


def test_simulated_curve_is_deterministic_flagged_and_within_limits():
    at = dt.datetime(2026, 6, 10, 21, 40, tzinfo=UTC)  # 18:40 in Brasília
    price = simulated_pld(Submarket.SE, at)
    assert price == simulated_pld(Submarket.SE, at)
    assert price.simulated
    assert price.source == "simulated"
    assert price.start == dt.datetime(2026, 6, 10, 21, tzinfo=UTC)
    limits = limits_for(2026)
    for submarket in Submarket:
        day = [
            simulated_pld(
                submarket, dt.datetime(2026, 6, 10, 3, tzinfo=UTC) + dt.timedelta(hours=h)
            )
            for h in range(24)
        ]
        assert all(limits.floor <= p.rs_per_mwh <= limits.hourly_ceiling for p in day)
        assert within_daily_cap(day, limits)
        # The evening ramp is dearer than midday, as in the recent PLD.
        assert day[19].rs_per_mwh > day[12].rs_per_mwh
    assert simulated_pld(Submarket.SE, at) != simulated_pld(Submarket.NE, at)


def test_daily_cap_check():
    limits = limits_for(2026)
    start = dt.datetime(2026, 6, 10, 3, tzinfo=UTC)
    high = [PldPrice(Submarket.SE, start, Decimal(800), "ccee")] * 24
    assert not within_daily_cap(high, limits)
    assert within_daily_cap([], limits)


def test_a_ccee_value_is_never_replaced_by_a_simulated_one():
    start = dt.datetime(2026, 6, 10, 21, tzinfo=UTC)
    ccee = PldPrice(Submarket.SE, start, Decimal(300), "ccee")
    simulated = PldPrice(Submarket.SE, start, Decimal(200), "simulated")
    newer = PldPrice(Submarket.SE, start, Decimal(310), "ccee")
    assert prefer_ccee(ccee, simulated) is ccee
    assert prefer_ccee(simulated, ccee) is ccee
    assert prefer_ccee(ccee, newer) is newer
    assert prefer_ccee(None, simulated) is simulated


def test_pld_table_answers_known_hours_and_simulates_the_others():
    start = dt.datetime(2026, 6, 10, 21, tzinfo=UTC)
    ccee = PldPrice(Submarket.SE, start, Decimal(300), "ccee")
    stale = PldPrice(Submarket.SE, start, Decimal(1), "simulated")
    table = PldTable.of([ccee, stale])
    assert table(Submarket.SE, start + dt.timedelta(minutes=59)) is ccee
    assert table(Submarket.S, start) == simulated_pld(Submarket.S, start)
    later = start + dt.timedelta(hours=1)
    assert table(Submarket.SE, later) == simulated_pld(Submarket.SE, later)
    assert table(Submarket.SE, later).simulated
