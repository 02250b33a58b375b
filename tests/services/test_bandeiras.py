"""Bandeiras: the month's flag and its surcharge on every kWh, in the operator's local month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csms.services.bandeiras import Bandeira, BandeiraCalendar, BandeiraError, parse_bandeira_months

SP = ZoneInfo("America/Sao_Paulo")
UTC = dt.UTC


def test_surcharges_per_kwh_are_the_published_values_per_100_kwh_exactly():
    assert Bandeira.VERDE.rs_per_kwh == 0
    assert Bandeira.AMARELA.rs_per_kwh == Decimal("0.01885")
    assert Bandeira.VERMELHA_P1.rs_per_kwh == Decimal("0.04463")
    assert Bandeira.VERMELHA_P2.rs_per_kwh == Decimal("0.07877")
    assert Bandeira.ESCASSEZ_HIDRICA.rs_per_kwh == Decimal("0.142")


def test_flag_changes_at_local_midnight_across_a_month():
    calendar = parse_bandeira_months({"2026-06": "amarela", "2026-07": "vermelha_p2"})
    # 30 Jun 23:59 in São Paulo is 1 Jul 02:59 UTC: still June's flag.
    assert calendar.flag_at(dt.datetime(2026, 7, 1, 2, 59, tzinfo=UTC), SP) is Bandeira.AMARELA
    assert calendar.flag_at(dt.datetime(2026, 7, 1, 3, 0, tzinfo=UTC), SP) is Bandeira.VERMELHA_P2
    assert calendar.flag_at(dt.datetime(2026, 6, 1, 3, 0, tzinfo=UTC), SP) is Bandeira.AMARELA
    assert calendar.flag_at(dt.datetime(2026, 6, 1, 2, 59, tzinfo=UTC), SP) is Bandeira.VERDE


def test_a_month_not_listed_has_the_default_flag():
    calendar = parse_bandeira_months({}, default="vermelha_p1")
    assert calendar.flag_at(dt.datetime(2030, 1, 15, tzinfo=UTC), SP) is Bandeira.VERMELHA_P1
    assert BandeiraCalendar().flag_at(dt.datetime(2030, 1, 15, tzinfo=UTC), SP) is Bandeira.VERDE


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"2026-13": "verde"}, "bandeiras.2026-13"),
        ({"2026-6": "verde"}, "bandeiras.2026-6"),
        ({"2026-06": "roxa"}, "bandeiras.2026-06"),
        ({"2026-06": None}, "bandeiras.2026-06"),
    ],
)
def test_bad_settings_name_the_field(raw, field):
    with pytest.raises(BandeiraError) as caught:
        parse_bandeira_months(raw)
    assert caught.value.field == field


def test_bad_default_names_its_field():
    with pytest.raises(BandeiraError) as caught:
        parse_bandeira_months({}, default="azul")
    assert caught.value.field == "bandeiras.default"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        BandeiraCalendar().flag_at(dt.datetime(2026, 6, 1), SP)
