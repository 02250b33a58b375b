"""Retail price by source (regulated, pld, contract), the gross-up, the forecast and best hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csms.services.bandeiras import Bandeira, parse_bandeira_months
from csms.services.pld import PldPrice, Submarket, simulated_pld
from csms.services.price_forecast import best_discharge_hours, forecast
from csms.services.retail_price import (
    ContractSource,
    GridMarket,
    GrossUp,
    PldSource,
    RegulatedSource,
    TaxRates,
    gross_up,
    price_at,
    value_rs,
)
from csms.services.tarifa_branca import DistributorTariff, Post

SP = ZoneInfo("America/Sao_Paulo")
UTC = dt.UTC
# ICMS 20 %, PIS 1 %, COFINS 4 %: single 1 / 0.75, cascaded 1 / (0.8 * 0.95) = 1 / 0.76.
TAXES = TaxRates(Decimal("0.20"), Decimal("0.01"), Decimal("0.04"))
# Post prices chosen so that with the amarela flag (0.01885) they are 1.5, 0.75 and 0.375 R$/kWh.
LIGHT = DistributorTariff(
    "light", "Light", dt.time(17, 30), Decimal("1.48115"), Decimal("0.73115"), Decimal("0.35615")
)
BANDEIRAS = parse_bandeira_months({"2026-06": "amarela"})
CCEE_HOUR = dt.datetime(2026, 6, 10, 21, tzinfo=UTC)  # 18:00 in São Paulo


def cached_pld(submarket: Submarket, at: dt.datetime) -> PldPrice:
    """A cache holding one CCEE hour; every other hour falls back to the simulated curve."""
    start = at.replace(minute=0, second=0, microsecond=0)
    if start == CCEE_HOUR:
        return PldPrice(submarket, start, Decimal(300), "ccee")
    return simulated_pld(submarket, at)


MARKET = GridMarket(SP, LIGHT, BANDEIRAS, TAXES, Submarket.SE, cached_pld)


def local(hhmm: str, day: dt.date = dt.date(2026, 6, 10)) -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), SP).astimezone(UTC)


def test_gross_up_formulas():
    assert gross_up(Decimal("0.75"), TAXES) == 1
    cascaded = TaxRates(TAXES.icms, TAXES.pis, TAXES.cofins, GrossUp.CASCADED)
    assert gross_up(Decimal("0.76"), cascaded) == 1
    assert gross_up(Decimal("0.75"), cascaded) < 1  # the cascaded one charges less


@pytest.mark.parametrize(
    "rates", [("1", "0", "0"), ("-0.1", "0", "0"), ("0.5", "0.3", "0.2"), ("NaN", "0", "0")]
)
def test_bad_tax_rates_are_refused(rates):
    with pytest.raises(ValueError, match=r"tax rate|100 %"):
        TaxRates(*map(Decimal, rates))


def test_regulated_price_is_post_plus_bandeira_grossed_up():
    ponta = price_at(MARKET, RegulatedSource(), local("18:00"))
    assert (ponta.post, ponta.is_peak, ponta.bandeira) == (Post.PONTA, True, Bandeira.AMARELA)
    assert ponta.tariff_rs_per_kwh == Decimal("1.48115")
    assert ponta.bandeira_rs_per_kwh == Decimal("0.01885")
    assert ponta.retail_rs_per_kwh == 2
    assert not ponta.simulated  # the regulated price does not rest on the PLD
    assert price_at(MARKET, RegulatedSource(), local("17:29")).retail_rs_per_kwh == 1
    assert price_at(MARKET, RegulatedSource(), local("21:30")).retail_rs_per_kwh == Decimal("0.5")
    saturday = price_at(MARKET, RegulatedSource(), local("18:00", dt.date(2026, 6, 13)))
    assert (saturday.post, saturday.is_peak, saturday.retail_rs_per_kwh) == (
        Post.FORA_PONTA,
        False,
        Decimal("0.5"),
    )


def test_bandeira_change_across_a_month_changes_the_regulated_price():
    july = price_at(MARKET, RegulatedSource(), local("18:00", dt.date(2026, 7, 1)))
    assert july.bandeira is Bandeira.VERDE
    assert july.retail_rs_per_kwh == Decimal("1.48115") / Decimal("0.75")


def test_pld_price_is_pld_plus_spread_grossed_up_and_says_when_simulated():
    at_ccee = price_at(MARKET, PldSource(Decimal(75)), local("18:20"))
    assert (at_ccee.pld.rs_per_mwh, at_ccee.pld.source) == (Decimal(300), "ccee")
    assert at_ccee.retail_rs_per_kwh == Decimal("0.5")  # (300 + 75) / 1000 / 0.75
    assert not at_ccee.simulated
    elsewhere = price_at(MARKET, PldSource(Decimal(75)), local("19:20"))
    assert elsewhere.simulated
    assert elsewhere.pld.source == "simulated"
    # Another source that does not rest on the PLD is not simulated even where the PLD is.
    assert not price_at(MARKET, RegulatedSource(), local("19:20")).simulated


def test_contract_price_is_fixed_per_post():
    contract = ContractSource(
        {
            Post.PONTA: Decimal("2.10"),
            Post.INTERMEDIARIO: Decimal("1.30"),
            Post.FORA_PONTA: Decimal("0.80"),
        }
    )
    assert price_at(MARKET, contract, local("18:00")).retail_rs_per_kwh == Decimal("2.10")
    assert price_at(MARKET, contract, local("17:00")).retail_rs_per_kwh == Decimal("1.30")
    assert price_at(MARKET, contract, local("23:00")).retail_rs_per_kwh == Decimal("0.80")
    with pytest.raises(ValueError, match="each post"):
        ContractSource({Post.PONTA: Decimal(1)})


def test_money_is_rounded_once_to_the_centavo_half_even():
    assert value_rs(Decimal("12.345"), Decimal("1.005")) == Decimal("12.41")  # 12.406725
    assert value_rs(Decimal(1), Decimal("0.125")) == Decimal("0.12")
    assert value_rs(Decimal(1), Decimal("0.135")) == Decimal("0.14")
    assert str(value_rs(Decimal(0), Decimal(2))) == "0.00"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        price_at(MARKET, RegulatedSource(), dt.datetime(2026, 6, 10, 18))


def test_forecast_is_hourly_and_averages_the_half_hour_posts():
    hours = forecast(MARKET, RegulatedSource(), local("16:10"), 24)
    assert len(hours) == 24
    assert hours[0].start == local("16:00")
    assert hours[-1].end == local("16:00") + dt.timedelta(hours=24)
    by_local = {h.start.astimezone(SP).hour: h for h in hours}
    expected = {
        15: "0.5",
        16: "0.75",
        17: "1.5",
        18: "2",
        19: "2",
        20: "1.5",
        21: "0.75",
        22: "0.5",
    }
    assert {hr: by_local[hr].retail_rs_per_kwh for hr in expected} == {
        hr: Decimal(v) for hr, v in expected.items()
    }
    assert [by_local[hr].is_peak for hr in (16, 17, 18, 19, 20, 21)] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert by_local[17].post is Post.INTERMEDIARIO  # the post at the hour's start
    assert not any(h.simulated for h in hours)


@pytest.mark.parametrize("hours", [0, 169])
def test_forecast_length_is_bounded(hours):
    with pytest.raises(ValueError, match="hours"):
        forecast(MARKET, RegulatedSource(), local("16:00"), hours)


def test_best_hours_pick_the_dearest_and_fill_the_energy():
    hours = forecast(MARKET, RegulatedSource(), local("00:00"), 24)
    plan = best_discharge_hours(
        hours, local("16:00"), local("23:00"), Decimal(7000), Decimal(17500)
    )
    assert [(h.start.astimezone(SP).hour, h.energy_wh) for h in plan.hours] == [
        (17, 3500),
        (18, 7000),
        (19, 7000),
    ]
    assert (plan.energy_wh, plan.shortfall_wh, plan.value_rs) == (17500, 0, Decimal("33.25"))
    assert not plan.simulated


def test_best_hours_use_whole_hours_inside_the_window_and_report_a_shortfall():
    hours = forecast(MARKET, RegulatedSource(), local("00:00"), 24)
    plan = best_discharge_hours(
        hours, local("17:30"), local("20:00"), Decimal(7000), Decimal(20000)
    )
    assert [h.start.astimezone(SP).hour for h in plan.hours] == [18, 19]
    assert (plan.energy_wh, plan.shortfall_wh, plan.value_rs) == (14000, 6000, Decimal("28.00"))
    empty = best_discharge_hours(
        hours, local("17:30"), local("18:00"), Decimal(7000), Decimal(1000)
    )
    assert (empty.hours, empty.shortfall_wh, str(empty.value_rs)) == ((), 1000, "0.00")


def test_best_hours_with_the_pld_source_say_simulated():
    hours = forecast(MARKET, PldSource(), local("00:00"), 24)
    plan = best_discharge_hours(
        hours, local("00:00"), local("00:00") + dt.timedelta(hours=24), Decimal(7000), Decimal(7000)
    )
    assert plan.simulated
    with pytest.raises(ValueError, match="positive"):
        best_discharge_hours(hours, local("00:00"), local("23:00"), Decimal(0), Decimal(7000))
