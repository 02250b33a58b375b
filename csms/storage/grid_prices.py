"""The hourly PLD cache (``v2g_grid_prices``, migration 0004): what CCEE published, or the
simulated curve for the hours it has not (flagged by ``source``).

A CCEE value is never replaced by a simulated one (``pld.prefer_ccee``, here in the upsert's
WHERE), so a refresh while CCEE is down keeps what was fetched before. The table keys the
submarket SE/CO as ``SE_CO``; the PLD is kept to the centavo (CCEE publishes it so; the
simulated curve is rounded half-even) and ``retail_brl_per_kwh`` holds the PLD's retail price
(grossed up, no spread) for reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from csms.services.pld import PLD_LIMITS, PldLimits, PldPrice, PldTable, Submarket

from ._connect import Connection

__all__ = ["read_prices", "upsert_prices"]

_TO_DB: Final = {Submarket.SE: "SE_CO", Submarket.S: "S", Submarket.NE: "NE", Submarket.N: "N"}
_FROM_DB: Final = {name: submarket for submarket, name in _TO_DB.items()}
_CENTAVO: Final = Decimal("0.01")
_RETAIL_PLACES: Final = Decimal("0.000001")
_HOUR: Final = dt.timedelta(hours=1)


def upsert_prices(
    conn: Connection,
    prices: Iterable[PldPrice],
    retail_rs_per_kwh: Callable[[PldPrice], Decimal],
    *,
    fetched_at: dt.datetime,
) -> int:
    """Store the hours; a stored CCEE hour stays when the incoming one is simulated. Returns
    the rows written (inserted or replaced)."""
    rows = [
        (
            _TO_DB[p.submarket],
            p.start,
            p.start + _HOUR,
            p.source,
            p.rs_per_mwh.quantize(_CENTAVO, rounding=ROUND_HALF_EVEN),
            retail_rs_per_kwh(p).quantize(_RETAIL_PLACES, rounding=ROUND_HALF_EVEN),
            fetched_at,
        )
        for p in prices
    ]
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO v2g_grid_prices (submarket, starts_at, ends_at, source,"
            " pld_brl_per_mwh, retail_brl_per_kwh, fetched_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (submarket, starts_at) DO UPDATE SET"
            " ends_at = EXCLUDED.ends_at, source = EXCLUDED.source,"
            " pld_brl_per_mwh = EXCLUDED.pld_brl_per_mwh,"
            " retail_brl_per_kwh = EXCLUDED.retail_brl_per_kwh, fetched_at = EXCLUDED.fetched_at"
            " WHERE NOT (v2g_grid_prices.source = 'ccee' AND EXCLUDED.source = 'simulated')",
            rows,
        )
        written = cur.rowcount
    return max(written, 0)


def read_prices(
    conn: Connection,
    start: dt.datetime,
    end: dt.datetime,
    limits: Mapping[int, PldLimits] = PLD_LIMITS,
) -> PldTable:
    """The hours starting in [start, end) as a ``PldTable`` (the simulated curve beyond them)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT submarket, starts_at, pld_brl_per_mwh, source FROM v2g_grid_prices"
            " WHERE starts_at >= %s AND starts_at < %s",
            (start, end),
        )
        prices = [
            PldPrice(_FROM_DB[submarket], starts_at.astimezone(dt.UTC), value, source)
            for submarket, starts_at, value, source in cur.fetchall()
        ]
    return PldTable.of(prices, limits)
