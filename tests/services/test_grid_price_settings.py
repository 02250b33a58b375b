"""The ``[v2g.prices]`` settings: defaults, overrides, sources per group, errors naming the key."""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csms.services.bandeiras import Bandeira
from csms.services.grid_price_settings import GridPriceSettingError, parse_grid_price_settings
from csms.services.pld import PldTable, Submarket
from csms.services.retail_price import (
    ContractSource,
    GrossUp,
    PldSource,
    RegulatedSource,
    price_at,
)
from csms.services.tarifa_branca import DISTRIBUTORS, Post

SP = ZoneInfo("America/Sao_Paulo")
D = "v2g.prices.distributors"
SRC = "v2g.prices.sources.g"
CONTRACT = {"kind": "contract", "intermediario": 1, "fora_ponta": 1}

EXAMPLE = """
distributor = "light"
submarket = "SUDESTE"
black_consciousness_day = false
gross_up = "cascaded"
icms = 0.20
pis = "0.01"
cofins = 0.04
[bandeiras]
"2026-06" = "amarela"
[distributors.light]
ponta = 1.48115
intermediario = 0.73115
fora_ponta = 0.35615
[distributors.coop]
name = "Cooperativa X"
ponta_start = "18:30"
ponta = 1.0
intermediario = 0.7
fora_ponta = 0.5
[sources]
fleet = { kind = "pld", spread_rs_per_mwh = 50 }
depot = { kind = "contract", ponta = 2.10, intermediario = 1.30, fora_ponta = 0.80 }
"""


def test_an_empty_table_gives_the_shipped_defaults():
    settings = parse_grid_price_settings({})
    assert settings.distributor == "cemig"
    assert settings.submarket is Submarket.SE
    assert settings.calendar.black_consciousness_day
    assert settings.taxes.icms == Decimal("0.18")
    assert settings.taxes.formula is GrossUp.SINGLE
    assert settings.source_for(None) == RegulatedSource()
    assert settings.distributors == DISTRIBUTORS


def test_the_example_of_the_docstring_reads_as_written():
    settings = parse_grid_price_settings(tomllib.loads(EXAMPLE))
    assert (settings.distributor, settings.submarket) == ("light", Submarket.SE)
    assert not settings.calendar.black_consciousness_day
    taxes = settings.taxes
    assert (taxes.icms, taxes.pis, taxes.cofins) == (
        Decimal("0.2"),
        Decimal("0.01"),
        Decimal("0.04"),
    )
    assert taxes.formula is GrossUp.CASCADED
    light = settings.distributors["light"]
    assert light.ponta_start == dt.time(17, 30)  # kept from the shipped table
    assert light.ponta_rs_per_kwh == Decimal("1.48115")  # not a float's digits
    assert settings.distributors["coop"].ponta_start == dt.time(18, 30)
    assert settings.source_for("fleet") == PldSource(Decimal(50))
    depot = settings.source_for("depot")
    assert isinstance(depot, ContractSource)
    assert depot.rs_per_kwh[Post.PONTA] == Decimal("2.1")
    assert settings.source_for("unknown") == RegulatedSource()
    market = settings.market(SP, PldTable())
    at = dt.datetime(2026, 6, 10, 21, tzinfo=dt.UTC)  # 18:00 in São Paulo: Light's ponta
    price = price_at(market, settings.source_for(None), at)
    assert price.bandeira is Bandeira.AMARELA
    assert price.retail_rs_per_kwh == Decimal("1.5") / (Decimal("0.8") * Decimal("0.95"))
    assert settings.market(SP, PldTable(), distributor="coop").distributor.code == "coop"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"distributor": "nope"}, "v2g.prices.distributor"),
        ({"distributor": ["cemig"]}, "v2g.prices.distributor"),
        ({"submarket": "CO"}, "v2g.prices.submarket"),
        ({"icms": 1.2}, "v2g.prices.icms"),
        ({"cofins": "x"}, "v2g.prices.cofins"),
        ({"icms": 0.5, "pis": 0.3, "cofins": 0.3}, "v2g.prices.icms"),
        ({"gross_up": "double"}, "v2g.prices.gross_up"),
        ({"black_consciousness_day": "yes"}, "v2g.prices.black_consciousness_day"),
        ({"bandeiras": {"2026-06": "roxa"}}, "v2g.prices.bandeiras.2026-06"),
        ({"bandeiras": []}, "v2g.prices.bandeiras"),
        ({"bandeira_default": "azul"}, "v2g.prices.bandeiras.default"),
        ({"distributors": {"x": {"ponta_start": "18:00"}}}, D + ".x.ponta"),
        ({"distributors": {"cemig": {"ponta_start": "7pm"}}}, D + ".cemig.ponta_start"),
        ({"distributors": {"cemig": {"ponta_start": "17:15"}}}, D + ".cemig"),
        ({"distributors": {"cemig": {"ponta": -1}}}, D + ".cemig"),
        ({"distributors": {"cemig": 3}}, D + ".cemig"),
        ({"sources": {"g": {"kind": "spot"}}}, SRC + ".kind"),
        ({"sources": {"g": {"kind": "pld", "spread_rs_per_mwh": ""}}}, SRC + ".spread_rs_per_mwh"),
        ({"sources": {"g": {"kind": "contract", "ponta": 1}}}, SRC + ".intermediario"),
        ({"sources": {"g": CONTRACT | {"ponta": -1}}}, SRC),
    ],
)  # fmt: skip
def test_a_bad_value_names_its_key(raw, field):
    with pytest.raises(GridPriceSettingError) as caught:
        parse_grid_price_settings(raw)
    assert caught.value.field == field
