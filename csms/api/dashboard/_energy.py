"""The overview's "energy delivered today", kept up to date from the transaction events stored
since the last look instead of worked out again from the whole day's readings.

Each transaction's energy is its last Energy.Active.Import.Register reading minus its first one
among its TransactionEvents stamped since local midnight. The tally keeps, per transaction,
those two readings with their places (``RegisterSpan``) and the sum of the differences; a
refresh reads only the events with an id above the last one it read (a range of the primary
key), so its cost follows the events since the previous refresh, never the day's transactions.
A new day starts a new tally, from the first event received since midnight.

Ids are handed out when an event is inserted, not when it is committed: a node's write still
in progress can leave an id below the newest one unseen. Such a missing id is looked up again
at each refresh for ``HOLE_TTL`` seconds (an id a rolled-back or conflicting insert used up is
never filled). Merging a span is idempotent (the least first reading, the greatest last one),
so reading an event twice changes nothing.

A page never waits for a refresh, except the first look of a day: ``latest`` answers with the
total of the last refresh and starts the next one in the background when that one is older than
asked (a refresh after a quiet spell can read tens of thousands of events, over a second).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import trio

from csms.storage import dashboard as queries

__all__ = ["CHUNK", "EnergyTally"]

log = logging.getLogger("csms.dashboard")

#: Events read by one statement (one bounded query each, about a tenth of a second).
CHUNK = 20_000
#: Events one refresh reads at most; a tally further behind (a node started late in a busy
#: day) shows no figure until it has caught up, a ``CATCH_UP`` a refresh.
CATCH_UP = 10 * CHUNK
#: How long an id below the newest one is waited for.
HOLE_TTL = 60.0
#: Ids waited for at most (the oldest are given up first).
MAX_HOLES = 10_000
#: How far before midnight the first event of the day is looked for (by arrival), so that an
#: event stamped after midnight but received a little before it is read too.
ARRIVAL_SLACK = dt.timedelta(hours=1)


class EnergyTally:
    """Energy delivered since a day's start, Wh, for one ``since`` at a time."""

    def __init__(
        self,
        read: Callable[..., Awaitable[Any]],
        spawn: Callable[..., object] = trio.lowlevel.spawn_system_task,
    ) -> None:
        """``await read(fn, *args)`` runs ``fn(conn, *args)`` (a ``csms.storage`` call);
        ``spawn(fn, *args)`` runs ``fn(*args)`` in the background. A system task by default:
        the dashboard has no task of its own (see ``_hub``), and a refresh must outlive the
        request that started it."""
        self._read = read
        self._spawn = spawn
        #: The total at the end of the last refresh that caught up (None: none yet today),
        #: when that refresh ended (trio clock), and whether one runs in the background.
        self._shown: Decimal | None = None
        self._refreshed_at = -float("inf")
        self._refreshing = False
        self._lock = trio.Lock()
        self._since: dt.datetime | None = None
        #: The events with an id up to this one have been read (holes aside).
        self._mark = 0
        self._caught_up = False
        #: (station, transaction) -> its span; ``_total`` is the sum of their energies.
        self._spans: dict[tuple[str, str], queries.RegisterSpan] = {}
        self._total = Decimal(0)
        #: Ids below the mark not found yet -> when they were first missed (trio clock).
        self._holes: dict[int, float] = {}

    @property
    def transactions(self) -> int:
        """Transactions with a reading today (what the tally holds)."""
        return len(self._spans)

    async def total(self, since: dt.datetime) -> Decimal | None:
        """The energy delivered since ``since`` as of the events stored now; None while the
        tally is still catching up with the day."""
        async with self._lock:
            if since != self._since:
                await self._start(since)
            await self._refresh()
            self._refreshed_at = trio.current_time()
            if self._caught_up:
                self._shown = self._total
            return self._total if self._caught_up else None

    async def latest(self, since: dt.datetime, max_age: float) -> Decimal | None:
        """The energy delivered since ``since`` as of the last refresh, which is started again
        in the background when older than ``max_age`` seconds; the first look at a day waits
        for its refresh (None while the tally is still catching up with the day)."""
        if since != self._since or self._shown is None:
            return await self.total(since)
        if not self._refreshing and trio.current_time() - self._refreshed_at >= max_age:
            self._refreshing = True
            self._spawn(self._refresh_in_background, since)
        return self._shown

    async def _refresh_in_background(self, since: dt.datetime) -> None:
        try:
            await self.total(since)
        except Exception:  # the database unavailable: the next look tries again
            log.warning("dashboard: the energy of the day failed to refresh", exc_info=True)
        finally:
            self._refreshing = False
            self._refreshed_at = trio.current_time()

    async def _start(self, since: dt.datetime) -> None:
        first = await self._read(queries.first_transaction_event_since, since - ARRIVAL_SLACK)
        self._since, self._mark, self._caught_up, self._shown = since, first, False, None
        self._spans, self._total, self._holes = {}, Decimal(0), {}

    async def _refresh(self) -> None:
        assert self._since is not None
        since = self._since
        if self._holes:
            await self._fill_holes(since)
        newest = await self._read(queries.transaction_event_mark)
        upto = min(newest, self._mark + CATCH_UP)
        while self._mark < upto:
            after, end = self._mark, min(upto, self._mark + CHUNK)
            spans = await self._read(queries.register_spans, since, after, end)
            present = await self._read(queries.transaction_events_between, after, end)
            missing: list[int] = []
            if present < end - after:
                missing = await self._read(
                    queries.missing_transaction_events, list(range(after + 1, end + 1))
                )
            self._merge(spans)
            self._mark = end
            now = trio.current_time()
            for hole in missing:
                self._holes[hole] = now
        self._caught_up = self._mark >= newest
        if len(self._holes) > MAX_HOLES:
            for hole in sorted(self._holes)[: len(self._holes) - MAX_HOLES]:
                del self._holes[hole]

    async def _fill_holes(self, since: dt.datetime) -> None:
        ids = sorted(self._holes)
        missing = set(await self._read(queries.missing_transaction_events, ids))
        filled = [i for i in ids if i not in missing]
        if filled:
            self._merge(await self._read(queries.register_spans_of, since, filled))
        expired = trio.current_time() - HOLE_TTL
        for i in ids:
            if i not in missing or self._holes[i] < expired:
                del self._holes[i]

    def _merge(self, spans: list[queries.RegisterSpan]) -> None:
        for new in spans:
            key = (new.station_id, new.transaction_id)
            old = self._spans.get(key)
            if old is None:
                merged = new
            else:
                self._total -= _energy(old)
                merged = queries.RegisterSpan(
                    new.station_id,
                    new.transaction_id,
                    min(old.first, new.first),
                    max(old.last, new.last),
                )
            self._spans[key] = merged
            self._total += _energy(merged)


def _energy(span: queries.RegisterSpan) -> Decimal:
    return span.last[1] - span.first[1]
