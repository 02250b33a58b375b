"""The prices actor (``prices``): the hourly PLD of the operator's submarkets, kept in memory.

At start and every ``v2g.ccee.refresh_interval_s`` it reads the current and the next month
(Brasília time) from CCEE (``CceeClient``), stores them in ``v2g_grid_prices`` with the simulated
curve for the hours CCEE has not published (CCEE publishes the PLD a day ahead; a month CCEE
could not be asked for is all simulated, with a warning naming the month and the failure), and
reloads its table from there: a CCEE hour stored before is never replaced by a simulated one.
With ``v2g.ccee.fetch = false`` nothing is fetched or stored: it prices from what is cached and
the simulated curve.

Its mailbox never waits for CCEE or the database: a refresh runs in a task of its own, and the
price questions are answered at once from the table in hand (``GridPriceBook``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Final

import attrs
import trio

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.domain.events import GridPricesRefreshed
from csms.runtime import Actor, ActorContext, Reply
from csms.services.grid_price_book import GridPriceBook
from csms.services.grid_price_json import GridPriceQueryError
from csms.services.pld import CCEE_TIME_ZONE, PldPrice, Submarket, simulated_pld
from csms.services.retail_price import gross_up
from csms.storage.grid_prices import read_prices, upsert_prices

from ._ccee import CceeClient, CceeError, CceeUnavailable
from ._messages import BestHours, Forecast, MonthRefresh, PriceAt, RefreshPrices, RefreshResult

__all__ = ["PricesActor"]

log = logging.getLogger("csms.prices")

HOUR: Final = dt.timedelta(hours=1)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _month_start(year: int, month: int) -> dt.datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dt.datetime(year, month, 1, tzinfo=CCEE_TIME_ZONE).astimezone(dt.UTC)


def _months(now: dt.datetime) -> tuple[tuple[int, int], tuple[int, int]]:
    """The current and the next month in Brasília time (CCEE's months)."""
    local = now.astimezone(CCEE_TIME_ZONE)
    after = _month_start(local.year, local.month + 1).astimezone(CCEE_TIME_ZONE)
    return (local.year, local.month), (after.year, after.month)


def _hours(year: int, month: int) -> list[dt.datetime]:
    start, end = _month_start(year, month), _month_start(year, month + 1)
    return [start + i * HOUR for i in range((end - start) // HOUR)]


class PricesActor(Actor):
    background_tasks = True

    def __init__(
        self,
        *,
        database: Database,
        book: GridPriceBook,
        client: Callable[[], CceeClient] | None,
        refresh_interval: float,
        clock: Callable[[], dt.datetime] = _utc_now,
        events: EventBus | None = None,
    ) -> None:
        self.database = database
        #: Told ``grid.prices.refreshed`` after each reload (the V2G optimizer plans again).
        self.events = events
        self.book = book
        #: None: fetching is off (``v2g.ccee.fetch = false``).
        self._make_client = client
        self._client: CceeClient | None = None
        self.refresh_interval = refresh_interval
        self.clock = clock
        self.last_refresh: RefreshResult | None = None
        self._lock = trio.Lock()
        self._ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        # what is cached serves from the first ask on, while CCEE is asked in the background
        try:
            await self._reload(self.clock())
        except Exception as exc:
            log.warning("grid price cache not read", extra={"error": repr(exc)})
        if self._make_client is not None:
            self._client = self._make_client()
        ctx.nursery.start_soon(self._schedule)

    async def on_stop(self, reason: BaseException | None) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def receive(self, message: Any) -> Any:
        try:
            if isinstance(message, PriceAt):
                return self.book.price(message.query, message.at)
            if isinstance(message, Forecast):
                return self.book.forecast(message.query, message.start, message.hours)
            if isinstance(message, BestHours):
                m = message
                return self.book.best_hours(m.query, m.start, m.end, m.power_w, m.energy_wh)
        except GridPriceQueryError as exc:
            return exc  # the asker raises it (a 422 naming the field); the actor goes on
        if isinstance(message, RefreshPrices):
            assert self._ctx is not None
            try:
                reply: Reply | None = self._ctx.defer_reply()
            except RuntimeError:  # told: nobody waits
                reply = None
            self._ctx.nursery.start_soon(self._answer_refresh, reply)
            return None
        log.warning("prices: unknown message ignored", extra={"kind": type(message).__name__})
        return None

    async def _schedule(self) -> None:
        while True:
            await self._guarded_refresh()
            await trio.sleep(self.refresh_interval)

    async def _answer_refresh(self, reply: Reply | None) -> None:
        result = await self._guarded_refresh()
        if reply is not None:
            reply.resolve(result)

    async def _guarded_refresh(self) -> RefreshResult | None:
        try:
            return await self.refresh()
        except Exception as exc:  # the database away: the table in hand serves meanwhile
            log.exception("grid price refresh failed", extra={"error": repr(exc)})
            return None

    async def refresh(self) -> RefreshResult:
        async with self._lock:
            now = self.clock()
            months = _months(now)
            outcomes = []
            if self._client is not None:
                for year, month in months:
                    outcomes.append(await self._refresh_month(self._client, year, month, now))
            await self._reload(now)
            self.last_refresh = RefreshResult(now, tuple(outcomes))
            if self.events is not None:
                self.events.publish(
                    GridPricesRefreshed(
                        ccee_hours=sum(o.ccee_hours for o in outcomes),
                        simulated_hours=sum(o.simulated_hours for o in outcomes),
                    )
                )
            return self.last_refresh

    async def _reload(self, now: dt.datetime) -> None:
        """The table from the cache: the current and the next month."""
        (year, month), _ = _months(now)
        first, end = _month_start(year, month), _month_start(year, month + 2)
        table = await self.database.run(read_prices, first, end)
        self.book = attrs.evolve(self.book, table=table)

    async def _refresh_month(
        self, client: CceeClient, year: int, month: int, now: dt.datetime
    ) -> MonthRefresh:
        error = None
        fetched: tuple[PldPrice, ...] = ()
        try:
            fetched = (await client.month(year, month)).prices
        except CceeError as exc:
            error = str(exc)
            status = exc.status if isinstance(exc, CceeUnavailable) else None
            log.warning(
                "CCEE PLD not available: the month is priced with the simulated curve",
                extra={"month": f"{year}-{month:02d}", "error": error, "status": status},
            )
        known = {(p.submarket, p.start) for p in fetched}
        simulated = [
            simulated_pld(submarket, hour)
            for hour in _hours(year, month)
            for submarket in Submarket
            if (submarket, hour) not in known
        ]
        taxes = self.book.settings.taxes

        def retail(price: PldPrice) -> Any:
            return gross_up(price.rs_per_mwh / 1000, taxes)

        await self.database.run(upsert_prices, [*fetched, *simulated], retail, fetched_at=now)
        outcome = MonthRefresh(
            year,
            month,
            "ccee" if fetched else "simulated",
            ccee_hours=len(fetched),
            simulated_hours=len(simulated),
            error=error,
        )
        log.info("grid prices refreshed", extra=attrs.asdict(outcome))
        return outcome
