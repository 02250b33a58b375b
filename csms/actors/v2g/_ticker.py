"""``SessionTicker``: one timer for every discharge session of the node.

A session needs the clock only for a few deadlines its policy knows (``SessionPolicy.due``:
the duration's or window's end, the disconnect grace, the renegotiation's timeout). Each
session tells the ticker its next one; the ticker, one trio task for them all, tells the
session a ``Tick`` once it has passed. A trio task per session parked in ``trio.sleep`` cost
about 2.6 KiB and a wake-up every second each, for ticks that nearly always changed nothing.

Deadlines are rounded up to the next multiple of ``interval`` (the ``[v2g] tick_interval_s``
setting, as before how late a session may notice its end): sessions due within the same
interval are told in one wake-up.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections.abc import Callable

import trio

from csms.runtime import ActorRef, ActorStopped

from ._messages import Tick

__all__ = ["TICK", "SessionTicker"]

#: The one tick every session is told.
TICK = Tick()

#: Added to a deadline before rounding it up: the session reads the wall clock after the
#: ticker (later or equal), and the float <-> datetime rounding must not make it a microsecond
#: early, which would leave its deadline unmet and the ticker waking it again at once.
_MARGIN_S = 0.001


class SessionTicker:
    """Deadlines by session, kept in a heap; stale entries (a deadline moved or dropped) are
    skipped when they come up."""

    __slots__ = ("_clock", "_deadlines", "_heap", "_interval", "_next", "_order", "_wake", "told")

    def __init__(self, clock: Callable[[], dt.datetime], interval: float) -> None:
        if interval <= 0:
            raise ValueError("the tick interval must be positive")
        self._clock = clock
        self._interval = interval
        self._deadlines: dict[ActorRef, float] = {}
        self._heap: list[tuple[float, int, ActorRef]] = []
        self._order = itertools.count()  # ties in the heap: refs do not compare
        self._next = math.inf
        self._wake = trio.Event()
        #: Ticks told (a test's and the benchmark's count).
        self.told = 0

    def __len__(self) -> int:
        """The sessions waiting for a deadline."""
        return len(self._deadlines)

    def __contains__(self, ref: ActorRef) -> bool:
        return ref in self._deadlines

    def set(self, ref: ActorRef, due: dt.datetime | None) -> None:
        """Tell ``ref`` a tick once the wall clock reaches ``due`` (its previous deadline
        replaced); None: no tick at all."""
        if due is None:
            self._deadlines.pop(ref, None)
            return
        wait = max((due - self._clock()).total_seconds(), 0.0) + _MARGIN_S
        deadline = math.ceil((trio.current_time() + wait) / self._interval) * self._interval
        if self._deadlines.get(ref) == deadline:
            return
        self._deadlines[ref] = deadline
        heap = self._heap
        if len(heap) > 2 * len(self._deadlines) + 64:  # mostly stale entries: rebuilt
            heap[:] = [
                (d, next(self._order), r) for r, d in self._deadlines.items() if r is not ref
            ]
            heapq.heapify(heap)
        heapq.heappush(heap, (deadline, next(self._order), ref))
        if deadline < self._next:
            self._wake.set()

    def remove(self, ref: ActorRef) -> None:
        """No more ticks for ``ref`` (it ended or stopped)."""
        self._deadlines.pop(ref, None)

    def _fire(self, now: float) -> None:
        heap, deadlines = self._heap, self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, ref = heapq.heappop(heap)
            if deadlines.get(ref) != deadline:
                continue  # moved or removed since
            del deadlines[ref]
            try:
                told = ref.tell_or_drop(TICK)
            except ActorStopped:
                continue
            if told:
                self.told += 1
            else:  # its mailbox is full: try again an interval later
                self.set(ref, self._clock())

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self._fire(trio.current_time())
            heap = self._heap
            self._next = heap[0][0] if heap else math.inf
            self._wake = trio.Event()
            with trio.move_on_at(self._next):
                await self._wake.wait()
