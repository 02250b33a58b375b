"""The grid price's REST shapes: the query's instant, decimal strings, local times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csms.services.bandeiras import parse_bandeira_months
from csms.services.grid_price_json import (
    GridPriceQueryError,
    forecast_to_json,
    grid_price_to_json,
    parse_instant,
    parse_query_submarket,
    plan_to_json,
)
from csms.services.pld import PldPrice, PldTable, Submarket
from csms.services.price_forecast import best_discharge_hours, forecast
from csms.services.retail_price import GridMarket, PldSource, RegulatedSource, TaxRates, price_at
from csms.services.tarifa_branca import DISTRIBUTORS

SP = ZoneInfo("America/Sao_Paulo")
UTC = dt.UTC
AT = dt.datetime(2026, 6, 10, 21, tzinfo=UTC)  # 18:00 in São Paulo
TAXES = TaxRates(Decimal("0.20"), Decimal("0.01"), Decimal("0.04"))
PLD = PldTable.of([PldPrice(Submarket.SE, AT, Decimal("100"), "ccee")])
MARKET = GridMarket(
    SP,
    DISTRIBUTORS["cemig"],
    parse_bandeira_months({"2026-06": "amarela"}),
    TAXES,
    Submarket.SE,
    PLD,
)


@pytest.mark.parametrize(
    "text", ["2026-06-10T21:00:00Z", "2026-06-10T18:00:00-03:00", "2026-06-10T21:00:00+00:00"]
)
def test_instants_with_z_or_an_offset(text):
    assert parse_instant(text) == AT


@pytest.mark.parametrize("text", ["2026-06-10T18:00:00", "yesterday", "", None, 5])
def test_instants_without_an_offset_or_no_instant_name_the_field(text):
    with pytest.raises(GridPriceQueryError) as caught:
        parse_instant(text)
    assert caught.value.field == "at"


def test_query_submarkets():
    assert parse_query_submarket("NORDESTE") is Submarket.NE
    with pytest.raises(GridPriceQueryError) as caught:
        parse_query_submarket("CO")
    assert caught.value.field == "submarket"


def test_grid_price_json_has_the_fields_of_the_api():
    body = grid_price_to_json(price_at(MARKET, RegulatedSource(), AT), SP)
    assert body == {
        "at": "2026-06-10T18:00:00-03:00",
        "distributor": "cemig",
        "post": "ponta",
        "isPeak": True,
        "tariffRsPerKwh": "1.2",
        "bandeira": "amarela",
        "bandeiraRsPerKwh": "0.01885",
        "submarket": "SE",
        "pldRsPerMwh": "100",
        "pldSource": "ccee",
        "priceSource": "regulated",
        "retailRsPerKwh": "1.625133",  # 1.21885 / 0.75 = 1.6251333...
        "simulated": False,
    }


def test_forecast_and_plan_json():
    hours = forecast(MARKET, PldSource(), AT, 2)
    rows = forecast_to_json(hours, SP)
    assert [(r["start"], r["pldSource"], r["simulated"]) for r in rows] == [
        ("2026-06-10T18:00:00-03:00", "ccee", False),
        ("2026-06-10T19:00:00-03:00", "simulated", True),
    ]
    assert rows[0]["retailRsPerKwh"] == "0.133333"  # 0.1 / 0.75
    plan = best_discharge_hours(hours, AT, AT + dt.timedelta(hours=1), Decimal(7000), Decimal(3000))
    assert plan_to_json(plan, SP) == {
        "hours": [
            {
                "start": "2026-06-10T18:00:00-03:00",
                "end": "2026-06-10T19:00:00-03:00",
                "energyWh": "3000",
                "retailRsPerKwh": "0.133333",
            }
        ],
        "energyWh": "3000",
        "shortfallWh": "0",
        "valueRs": "0.40",
        "simulated": False,
    }
