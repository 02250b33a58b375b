"""The prices actor against a local fake CCEE (a real HTTP server on loopback) and PostgreSQL:
fetched hours are cached in ``v2g_grid_prices`` and served; CCEE down means the simulated curve,
flagged and logged; a CCEE hour is never replaced by a simulated one (SPEC 6)."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import trio

from csms.actors.database import DatabasePool
from csms.actors.prices import (
    CceeClient,
    Forecast,
    PriceAt,
    PricesActor,
    RefreshPrices,
    RefreshResult,
    ask_prices,
)
from csms.runtime import ChildSpec, Strategy, Supervisor
from csms.services.grid_price_book import GridPriceBook, MarketQuery
from csms.services.grid_price_json import GridPriceQueryError
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.storage import connect

from .fake_ccee import FakeCcee, running_fake_ccee

NOW = dt.datetime(2026, 6, 1, 15, tzinfo=dt.UTC)
# DIA 1, HORA 0 in Brasília: the fake's SUDESTE value is 100.25
FIRST_HOUR = dt.datetime(2026, 6, 1, 3, tzinfo=dt.UTC)
JUNE_HOURS = 30 * 24 * 4
SE = MarketQuery(distributor="cemig")


@pytest.fixture
async def ccee(nursery: trio.Nursery) -> AsyncIterator[FakeCcee]:
    async for fake in running_fake_ccee(nursery):
        yield fake


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[DatabasePool]:
    database = DatabasePool(database_url, size=2)
    try:
        yield database
    finally:
        database.close()


async def no_pause(seconds: float) -> None:
    await trio.lowlevel.checkpoint()


def fetching(base_url: str) -> Callable[[], CceeClient]:
    return lambda: CceeClient(base_url, sleep=no_pause, backoff=(0.1,), timeout=5)


async def refreshed(
    nursery: trio.Nursery, pool: DatabasePool, client: Callable[[], CceeClient] | None
) -> tuple[Supervisor, RefreshResult]:
    """A ``prices`` actor started (it refreshes once at start, then never by itself) and a
    refresh asked (answered once it is done and the table reloaded)."""
    book = GridPriceBook(parse_grid_price_settings({}), ZoneInfo("America/Sao_Paulo"))

    def make() -> PricesActor:
        return PricesActor(
            database=pool, book=book, client=client, refresh_interval=math.inf, clock=lambda: NOW
        )

    root = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("prices", make)], name="node")
    await nursery.start(root.run)
    result = await ask_prices(root, RefreshPrices(), timeout=30)
    assert isinstance(result, RefreshResult)
    return root, result


def stored(database_url: str) -> dict[str, int]:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source, count(*) FROM v2g_grid_prices GROUP BY source"
        ).fetchall()
    return {source: count for source, count in rows}


def stored_value(database_url: str, start: dt.datetime) -> tuple[str, Decimal]:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT source, pld_brl_per_mwh FROM v2g_grid_prices"
            " WHERE submarket = 'SE_CO' AND starts_at = %s",
            (start,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


async def test_fetched_hours_are_cached_in_postgresql_and_served(
    nursery: trio.Nursery, ccee: FakeCcee, pool: DatabasePool, database_url: str
) -> None:
    root, result = await refreshed(nursery, pool, fetching(ccee.base_url))
    june, july = result.months
    # June: the fake's two days of four submarkets from CCEE, the rest of the month simulated
    assert (june.year, june.month, june.source, june.ccee_hours) == (2026, 6, "ccee", 192)
    assert june.simulated_hours == JUNE_HOURS - 192
    assert june.error is None
    assert (july.month, july.source, july.ccee_hours) == (7, "simulated", 0)
    assert stored(database_url) == {"ccee": 192, "simulated": JUNE_HOURS - 192 + 31 * 24 * 4}
    assert stored_value(database_url, FIRST_HOUR) == ("ccee", Decimal("100.25"))
    price = await ask_prices(root, PriceAt(SE, FIRST_HOUR + dt.timedelta(minutes=30)))
    assert (price.pld.rs_per_mwh, price.pld.source) == (Decimal("100.25"), "ccee")
    # a day CCEE has not published is priced with the simulated curve, flagged
    later = await ask_prices(root, PriceAt(SE, dt.datetime(2026, 6, 20, 15, tzinfo=dt.UTC)))
    assert later.pld.source == "simulated"
    hours = await ask_prices(root, Forecast(SE, FIRST_HOUR, 3))
    assert [h.halves[0].pld.rs_per_mwh for h in hours] == [
        Decimal("100.25"), Decimal("101.25"), Decimal("102.25"),
    ]  # fmt: skip


async def test_ccee_down_means_the_simulated_curve_flagged_and_logged(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="csms.prices")
    # nothing listens on port 9 of the loopback: connection refused, every attempt
    root, result = await refreshed(nursery, pool, fetching("http://127.0.0.1:9"))
    assert [(m.month, m.source, m.ccee_hours) for m in result.months] == [
        (6, "simulated", 0),
        (7, "simulated", 0),
    ]
    assert all(m.error and "ConnectError" in m.error for m in result.months)
    assert stored(database_url) == {"simulated": JUNE_HOURS + 31 * 24 * 4}
    price = await ask_prices(root, PriceAt(SE, FIRST_HOUR))
    assert price.pld.source == "simulated"
    warnings = [r for r in caplog.records if r.getMessage().startswith("CCEE PLD not available")]
    assert {getattr(r, "month", None) for r in warnings} == {"2026-06", "2026-07"}


async def test_a_ccee_hour_is_never_replaced_by_a_simulated_one(
    nursery: trio.Nursery, ccee: FakeCcee, pool: DatabasePool, database_url: str
) -> None:
    await refreshed(nursery, pool, fetching(ccee.base_url))
    # later refreshes while CCEE refuses (403, not retried): the months are simulated again
    ccee.failures.extend([403] * 4)  # the refresh at start and the one asked, two months each
    root, result = await refreshed(nursery, pool, fetching(ccee.base_url))
    assert result.months[0].source == "simulated"
    assert result.months[0].error is not None
    assert stored(database_url)["ccee"] == 192
    assert stored_value(database_url, FIRST_HOUR) == ("ccee", Decimal("100.25"))
    price = await ask_prices(root, PriceAt(SE, FIRST_HOUR))
    assert (price.pld.rs_per_mwh, price.pld.source) == (Decimal("100.25"), "ccee")


async def test_a_bad_query_comes_back_naming_the_field(
    nursery: trio.Nursery, pool: DatabasePool
) -> None:
    root, _ = await refreshed(
        nursery, pool, None
    )  # fetching off: nothing asked of CCEE, nothing stored
    with pytest.raises(GridPriceQueryError) as caught:
        await ask_prices(root, PriceAt(MarketQuery(distributor="nope"), NOW))
    assert caught.value.field == "distributor"
    price = await ask_prices(root, PriceAt(SE, NOW))  # the actor lives on
    assert price.pld.source == "simulated"


async def test_the_actor_refreshes_at_start_and_on_its_schedule(
    nursery: trio.Nursery, ccee: FakeCcee, pool: DatabasePool
) -> None:
    """No ask: the refresh at start and the scheduled ones read both months from CCEE."""
    readings = 0
    third = trio.Event()

    def clock() -> dt.datetime:  # read once per refresh (and once for the cache at start)
        nonlocal readings
        readings += 1
        if readings == 3:
            third.set()
        return NOW

    book = GridPriceBook(parse_grid_price_settings({}), ZoneInfo("America/Sao_Paulo"))

    def make() -> PricesActor:
        client = fetching(ccee.base_url)
        return PricesActor(database=pool, book=book, client=client, refresh_interval=0, clock=clock)

    root = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("prices", make)], name="node")
    await nursery.start(root.run)
    with trio.fail_after(60):  # a guard against a schedule that never comes round, not a timing
        await third.wait()  # the start's reload, the first refresh and the second have begun
    price = await ask_prices(root, PriceAt(SE, FIRST_HOUR))
    assert price.pld.source == "ccee"
    searched = [p["filters"] for path, p, _ in ccee.requests if path.endswith("datastore_search")]
    assert searched[:2] == ['{"MES_REFERENCIA": "202606"}', '{"MES_REFERENCIA": "202607"}']
