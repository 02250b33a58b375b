"""Grid prices over REST (SPEC 6): the price at an instant, the forecast and the best
hours, through a real node (prices actor, CCEE fetching off: the simulated curve) and through the
in-memory control plane; every bad query parameter is a 422 naming it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio

from csms.api import create_token
from csms.services.pld import PldPrice, Submarket
from csms.storage import connect
from csms.storage.grid_prices import upsert_prices

from .conftest import api_node, client
from .fake_control_plane import FakeControlPlane, fake_app

TOKEN = "in-memory-admin-token-0123456789"
PRICE = "/api/v1/v2g/grid-price"
FORECAST = "/api/v1/v2g/grid-price/forecast"
BEST = "/api/v1/v2g/best-hours"
BEST_QUERY = {"powerKw": "7", "energyKwh": "7"}
# Wednesday 10 June 2026, 18:00 in Brasília: CEMIG's ponta (17-20h), a working day
PEAK = "2026-06-10T18:00:00-03:00"


@pytest.fixture(params=["node", "memory"])
async def api(
    request: pytest.FixtureRequest, database_url: str, admin_env: str
) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "node":
        async with api_node(database_url) as node, client(node) as c:
            yield c
        return
    transport = httpx.ASGITransport(app=fake_app(FakeControlPlane(), TOKEN))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://csms", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as c:
        yield c


async def get_ok(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    reply = await api.get(path, params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_the_price_at_an_instant_names_every_component(api: httpx.AsyncClient) -> None:
    body = await get_ok(api, PRICE, at="2026-06-10T21:00:00Z", distributor="cemig", submarket="SE")
    assert set(body) >= {
        "at", "distributor", "post", "tariffRsPerKwh", "bandeira", "bandeiraRsPerKwh",
        "submarket", "pldRsPerMwh", "pldSource", "retailRsPerKwh",
    }  # fmt: skip
    assert body["at"] == PEAK  # in the operator's zone
    assert (body["distributor"], body["post"], body["isPeak"]) == ("cemig", "ponta", True)
    assert (body["submarket"], body["pldSource"], body["bandeira"]) == ("SE", "simulated", "verde")
    # money as decimal strings: the regulated price is the tariff grossed up (verde: no flag)
    tariff, retail = Decimal(body["tariffRsPerKwh"]), Decimal(body["retailRsPerKwh"])
    assert isinstance(body["pldRsPerMwh"], str)
    assert Decimal(body["pldRsPerMwh"]) > 0
    assert retail > tariff > 0
    assert body["priceSource"] == "regulated"


async def test_ccee_names_and_another_distributor_are_taken(api: httpx.AsyncClient) -> None:
    # Light's ponta is 17:30-20:30: 17:15 is intermediario there, ponta at CEMIG
    at = "2026-06-10T17:15:00-03:00"
    light = await get_ok(api, PRICE, at=at, distributor="light", submarket="SUDESTE")
    cemig = await get_ok(api, PRICE, at=at, distributor="cemig", submarket="SE")
    assert (light["post"], cemig["post"]) == ("intermediario", "ponta")
    assert light["submarket"] == "SE"


async def test_a_forecast_gives_hourly_prices_in_the_operators_zone(api: httpx.AsyncClient) -> None:
    body = await get_ok(api, FORECAST, at="2026-06-10T12:30:00Z", hours=24, distributor="cemig")
    hours = body["hours"]
    assert len(hours) == 24
    assert hours[0]["start"] == "2026-06-10T09:00:00-03:00"
    assert hours[-1]["end"] == "2026-06-11T09:00:00-03:00"
    posts = {h["start"][11:16]: h["post"] for h in hours}
    assert (posts["16:00"], posts["17:00"], posts["19:00"], posts["20:00"]) == (
        "intermediario", "ponta", "ponta", "intermediario",
    )  # fmt: skip
    assert all(h["pldSource"] == "simulated" for h in hours)
    assert (body["distributor"], body["submarket"]) == ("cemig", "SE")


async def test_the_best_hours_are_the_dearest_ones_of_the_window(api: httpx.AsyncClient) -> None:
    body = await get_ok(
        api, BEST, powerKw="7", energyKwh="14", distributor="cemig",
        **{"from": "2026-06-10T09:00:00-03:00", "to": "2026-06-11T09:00:00-03:00"},
    )  # fmt: skip
    # two hours at 7 kW, both in CEMIG's ponta (the dearest post)
    assert [h["start"][11:16] for h in body["hours"]] == ["17:00", "18:00"]
    assert (body["energyWh"], body["shortfallWh"]) == ("14000", "0")
    value = sum(Decimal(h["retailRsPerKwh"]) * 7 for h in body["hours"])
    assert abs(Decimal(body["valueRs"]) - value) <= Decimal("0.01")


async def test_an_empty_window_holds_no_hour(api: httpx.AsyncClient) -> None:
    window = {"from": "2026-06-10T09:00:00Z", "to": "2026-06-10T08:00:00Z"}
    body = await get_ok(api, BEST, powerKw="7", energyKwh="1.5", **window)
    assert body["hours"] == []
    assert (Decimal(body["energyWh"]), Decimal(body["shortfallWh"])) == (0, 1500)
    assert body["valueRs"] == "0.00"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (PRICE, {"at": "yesterday"}, "at"),
        (PRICE, {"at": "2026-06-10T18:00:00"}, "at"),  # no offset: ambiguous
        (PRICE, {"at": "9999-12-31T23:00:00Z"}, "at"),
        (PRICE, {"submarket": "CENTRO"}, "submarket"),
        (PRICE, {"distributor": "nope"}, "distributor"),
        (FORECAST, {"hours": "0"}, "hours"),
        (FORECAST, {"hours": "169"}, "hours"),
        (FORECAST, {"hours": "x"}, "hours"),
        (FORECAST, {"distributor": "nope"}, "distributor"),
        (BEST, {"energyKwh": "1"}, "powerKw"),
        (BEST, {"powerKw": "7", "energyKwh": "-1"}, "energyKwh"),
        (BEST, {"powerKw": "0", "energyKwh": "1"}, "powerKw"),
        (BEST, {"powerKw": "7", "energyKwh": "1", "from": "2026-13-01T09:00:00Z"}, "from"),
        (BEST, {"powerKw": "7", "energyKwh": "1", "to": "2026-02-29T09:00:00Z"}, "to"),
        (BEST, {"powerKw": "7", "energyKwh": "1", "submarket": "XX"}, "submarket"),
    ],
)
async def test_a_bad_query_is_422_naming_the_field(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    reply = await api.get(path, params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["field"] == field


async def test_prices_need_a_token(api: httpx.AsyncClient) -> None:
    reply = await api.get(PRICE, headers={"Authorization": ""})
    assert reply.status_code == 401


async def test_a_node_serves_the_ccee_price_cached_in_postgresql(
    database_url: str, admin_env: str
) -> None:
    """The prices actor reads the cache at start (CCEE fetching off here): the REST answer is
    the stored CCEE hour, flagged ``ccee``, where the simulated curve would stand otherwise."""
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    cached = [  # this hour and the next: a request may cross the hour
        PldPrice(Submarket.SE, start, Decimal("123.45"), "ccee")
        for start in (hour, hour + dt.timedelta(hours=1))
    ]
    with connect(database_url) as conn:
        upsert_prices(conn, cached, lambda p: p.rs_per_mwh / 1000, fetched_at=hour)
    async with api_node(database_url) as node, client(node) as api:
        body = await get_ok(api, PRICE, submarket="SE")
        other = await get_ok(api, PRICE, submarket="NE")
    assert (body["pldRsPerMwh"], body["pldSource"]) == ("123.45", "ccee")
    assert other["pldSource"] == "simulated"


async def test_a_viewer_reads_prices(database_url: str, admin_env: str) -> None:
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    async with api_node(database_url) as node, client(node, viewer) as api:
        for path, params in ((PRICE, {}), (FORECAST, {"hours": "2"}), (BEST, BEST_QUERY)):
            assert (await api.get(path, params=params)).status_code == 200
        async with client(node, None) as anonymous:
            assert (await anonymous.get(PRICE)).status_code == 401
