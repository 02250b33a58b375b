"""The hourly PLD cache (``v2g_grid_prices``): hours stored with their source, read back as a
``PldTable``; a CCEE hour is never replaced by a simulated one, a simulated one is by CCEE's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from csms.services.pld import PldPrice, Submarket
from csms.storage import connect
from csms.storage.grid_prices import read_prices, upsert_prices

H0 = dt.datetime(2026, 6, 1, 3, tzinfo=dt.UTC)
H1 = H0 + dt.timedelta(hours=1)
FETCHED = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def retail(price: PldPrice) -> Decimal:
    return price.rs_per_mwh / 1000


def test_a_ccee_hour_stays_and_a_simulated_one_is_replaced(database_url: str) -> None:
    with connect(database_url) as conn:
        upsert_prices(
            conn,
            [
                PldPrice(Submarket.SE, H0, Decimal("100.25"), "ccee"),
                PldPrice(Submarket.SE, H1, Decimal("150.123456"), "simulated"),
            ],
            retail,
            fetched_at=FETCHED,
        )
        upsert_prices(
            conn,
            [
                PldPrice(Submarket.SE, H0, Decimal("999"), "simulated"),
                PldPrice(Submarket.SE, H1, Decimal("120.50"), "ccee"),
                PldPrice(Submarket.N, H0, Decimal("80"), "simulated"),
            ],
            retail,
            fetched_at=FETCHED,
        )
        table = read_prices(conn, H0, H1 + dt.timedelta(hours=1))
        stored = conn.execute(
            "SELECT submarket, retail_brl_per_kwh FROM v2g_grid_prices WHERE starts_at = %s"
            " ORDER BY submarket",
            (H0,),
        ).fetchall()
    assert table(Submarket.SE, H0) == PldPrice(Submarket.SE, H0, Decimal("100.25"), "ccee")
    assert table(Submarket.SE, H1 + dt.timedelta(minutes=59)).source == "ccee"
    assert table(Submarket.SE, H1).rs_per_mwh == Decimal("120.50")
    assert table(Submarket.N, H0).rs_per_mwh == Decimal("80.00")
    # an hour not stored is the simulated curve
    assert table(Submarket.S, H0).source == "simulated"
    assert stored == [("N", Decimal("0.080000")), ("SE_CO", Decimal("0.100250"))]


def test_a_simulated_value_is_kept_to_the_centavo(database_url: str) -> None:
    with connect(database_url) as conn:
        upsert_prices(
            conn,
            [PldPrice(Submarket.NE, H0, Decimal("150.125"), "simulated")],
            retail,
            fetched_at=FETCHED,
        )
        table = read_prices(conn, H0, H1)
    assert table(Submarket.NE, H0).rs_per_mwh == Decimal("150.12")  # half-even
