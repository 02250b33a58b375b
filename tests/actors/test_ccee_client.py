"""The CCEE open-data client against a local fake CCEE (a real HTTP server on loopback)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import trio

from csms.actors.prices import CceeClient, CceeError, CceeUnavailable
from csms.services.pld import Submarket

from .fake_ccee import running_fake_ccee


@pytest.fixture
async def ccee(nursery):
    async for fake in running_fake_ccee(nursery):
        yield fake


class Pauses:
    """Records the backoff pauses instead of waiting them out."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await trio.lowlevel.checkpoint()


def client(fake, **options) -> CceeClient:
    options.setdefault("sleep", Pauses())
    return CceeClient(fake.base_url, **options)


async def test_a_month_is_read_over_several_pages_and_clamped(ccee):
    async with client(ccee, page_size=50) as c:
        month = await c.month(2026, 6)
    assert month.pages == 4  # 192 good rows + 3 malformed, 50 a page
    assert len(month.prices) == 2 * 24 * 4
    searches = [params for path, params, _ in ccee.requests if path.endswith("datastore_search")]
    assert [int(p["offset"]) for p in searches] == [0, 50, 100, 150]
    assert {p["resource_id"] for p in searches} == {"r2026"}
    assert all(json.loads(p["filters"]) == {"MES_REFERENCIA": "202606"} for p in searches)
    # DIA 1, HORA 0 in Brasília is 03:00 UTC; the value is read as an exact Decimal.
    first = month.prices[0]
    assert (first.submarket, first.start, first.rs_per_mwh, first.source) == (
        Submarket.SE,
        dt.datetime(2026, 6, 1, 3, tzinfo=dt.UTC),
        Decimal("100.25"),
        "ccee",
    )
    clamped = [p for p in month.prices if p.start == dt.datetime(2026, 6, 2, 22, tzinfo=dt.UTC)]
    assert {p.submarket: p.rs_per_mwh for p in clamped}[Submarket.SE] == Decimal("1611.04")
    assert {p.submarket for p in month.prices} == set(Submarket)


async def test_malformed_rows_are_set_apart_with_the_field(ccee):
    async with client(ccee, page_size=1000) as c:
        month = await c.month(2026, 6)
    assert month.pages == 1
    assert [r.reason.split(":")[0] for r in month.rejected] == ["HORA", "PLD_HORA", "SUBMERCADO"]


async def test_a_dd_mm_yyyy_day_reads_like_a_day_number(ccee):
    async with client(ccee, page_size=100) as c:
        dated = await c.month(2025, 6)
    assert len(dated.prices) == 2 * 24 * 4
    assert dated.rejected == ()
    assert dated.prices[96].start == dt.datetime(2025, 6, 2, 3, tzinfo=dt.UTC)  # day 2, 0 h
    assert {p.rs_per_mwh for p in dated.prices} >= {Decimal("100.25"), Decimal("1542.23")}


async def test_the_year_resource_is_looked_up_once_per_client(ccee):
    async with client(ccee) as c:
        may, june = await c.month(2026, 5), await c.month(2026, 6)
    assert (len(may.prices), len(june.prices)) == (24 * 4, 2 * 24 * 4)
    paths = [path.rsplit("/", 1)[1] for path, _, _ in ccee.requests]
    assert paths == ["package_show", "datastore_search", "datastore_search"]


async def test_a_year_without_a_resource_is_an_error(ccee):
    async with client(ccee) as c:
        with pytest.raises(CceeError, match="pld_horario_2024"):
            await c.month(2024, 1)


async def test_the_key_goes_in_the_authorization_header(ccee):
    async with client(ccee, api_key="k-123") as c:
        await c.resource_id(2026)
    async with client(ccee) as c:
        await c.resource_id(2026)
    assert [auth for _, _, auth in ccee.requests] == ["k-123", None]


async def test_a_403_fails_at_once_without_retries(ccee):
    ccee.failures = [403]
    pauses = Pauses()
    async with client(ccee, sleep=pauses) as c:
        with pytest.raises(CceeUnavailable) as caught:
            await c.month(2026, 6)
    assert caught.value.status == 403
    assert len(ccee.requests) == 1
    assert pauses.seconds == []


async def test_server_errors_are_retried_with_backoff(ccee):
    ccee.failures = [503, 429]
    pauses = Pauses()
    async with client(ccee, sleep=pauses, backoff=(0.5, 1.0, 2.0)) as c:
        assert await c.resource_id(2026) == "r2026"
    assert pauses.seconds == [0.5, 1.0]
    assert len(ccee.requests) == 3


async def test_retries_end_with_unavailable(ccee):
    ccee.failures = [500, 502, 503]
    pauses = Pauses()
    async with client(ccee, sleep=pauses, backoff=(0.5, 1.0)) as c:
        with pytest.raises(CceeUnavailable, match="after 3 attempts") as caught:
            await c.resource_id(2026)
    assert caught.value.status == 503
    assert pauses.seconds == [0.5, 1.0]


async def test_a_timeout_is_retried_then_unavailable(ccee):
    ccee.failures = ["hang", "hang"]
    pauses = Pauses()
    async with client(ccee, sleep=pauses, backoff=(1.0,), timeout=0.5) as c:
        with pytest.raises(CceeUnavailable, match="Timeout") as caught:
            await c.resource_id(2026)
    assert caught.value.status is None
    assert pauses.seconds == [1.0]
    assert len(ccee.requests) == 2


async def test_an_answer_that_is_no_json_is_an_error(ccee):
    ccee.failures = ["garbage"]
    async with client(ccee) as c:
        with pytest.raises(CceeError, match="no JSON"):
            await c.resource_id(2026)


async def test_an_unreachable_portal_is_unavailable():
    with trio.socket.socket() as sock:  # a port nobody listens on: bound, never listening
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        pauses = Pauses()
        async with CceeClient(f"http://127.0.0.1:{port}", sleep=pauses, backoff=(0.1,)) as c:
            with pytest.raises(CceeUnavailable, match="ConnectError"):
                await c.resource_id(2026)
    assert pauses.seconds == [0.1]


def test_public_names_are_pinned():
    import csms.actors.prices

    from ..public_names import exported

    assert exported(csms.actors.prices) == sorted(
        [
            "DEFAULT_BASE_URL",
            "NAME",
            "BestHours",
            "CceeClient",
            "CceeError",
            "CceeUnavailable",
            "Forecast",
            "MonthPld",
            "MonthRefresh",
            "PriceAt",
            "PricesActor",
            "RefreshPrices",
            "RefreshResult",
            "ask_prices",
            "prices_child",
        ]
    )
