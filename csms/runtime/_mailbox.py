"""A bounded single-consumer mailbox.

It follows trio's memory channel closely (same checkpoints, same parking of blocked senders), so
``tell`` costs what a channel send costs, but it adds what an actor needs and a channel lacks: a
stop request that wakes an idle consumer, two ways to stop (drain what is queued, or keep it for
the next incarnation), and counters for depth, high-water mark and dropped messages.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Final

import outcome
import trio

from ._exceptions import ActorStopped, MailboxFull


class _StopSignal:
    __slots__ = ()

    def __repr__(self) -> str:
        return "STOP"


#: What ``get`` returns when the consumer should stop.
STOP: Final = _StopSignal()


class Mailbox:
    """Bounded FIFO with one consumer and any number of producers."""

    __slots__ = (
        "_closed",
        "_consumer",
        "_drain_left",
        "_items",
        "_senders",
        "_stop_requested",
        "capacity",
        "dropped",
        "high_water",
        "taker",
    )

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"mailbox capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        # Made on the first message that has to wait: an idle actor's mailbox (a station's, by
        # the ten thousand) hands messages straight to its parked consumer and never queues.
        self._items: deque[Any] | None = None
        # Blocked senders, made on first use: most mailboxes never fill up.
        self._senders: OrderedDict[trio.lowlevel.Task, Any] | None = None
        self._consumer: trio.lowlevel.Task | None = None
        self._closed = False
        self._stop_requested = False
        self._drain_left = 0
        self.dropped = 0
        self.high_water = 0
        #: Set while an incarnation that takes messages inline runs (``Actor.receive_nowait``).
        self.taker: Callable[[Any], bool] | None = None

    # -- producers ------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        items = len(self._items) if self._items else 0
        return items + (len(self._senders) if self._senders else 0)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def waiting(self) -> bool:
        """True while the actor waits for its next message: one put now is taken at once."""
        return self._consumer is not None

    @property
    def full(self) -> bool:
        items = self._items
        return items is not None and len(items) >= self.capacity

    def put_nowait(self, item: Any) -> None:
        if self._closed:
            raise ActorStopped("mailbox is closed")
        consumer = self._consumer
        if consumer is not None:  # the actor waits for a message: nothing is queued
            taker = self.taker
            if taker is not None and taker(item):
                return
            self._consumer = None
            trio.lowlevel.reschedule(consumer, outcome.Value(item))
            return
        items = self._items
        if items is None:
            items = self._items = deque()
        elif len(items) >= self.capacity:
            raise MailboxFull(f"mailbox full ({self.capacity} messages)")
        items.append(item)
        if len(items) > self.high_water:
            self.high_water = len(items)

    def put_or_drop(self, item: Any) -> bool:
        try:
            self.put_nowait(item)
        except MailboxFull:
            self.dropped += 1
            return False
        return True

    async def put(self, item: Any) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self.put_nowait(item)
        except MailboxFull:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        task = trio.lowlevel.current_task()
        if self._senders is None:
            self._senders = OrderedDict()
        senders = self._senders
        senders[task] = item

        def abort(_: Any) -> trio.lowlevel.Abort:
            del senders[task]
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    # -- the consumer ---------------------------------------------------------------------

    def _take(self) -> Any:
        """Next item; the oldest blocked sender takes the freed slot. The queue is not empty."""
        items = self._items
        assert items is not None
        item = items.popleft()
        if self._senders:
            task, waiting = self._senders.popitem(last=False)
            items.append(waiting)
            trio.lowlevel.reschedule(task)
        return item

    async def get(self) -> Any:
        """The next message, or ``STOP`` once a stop was requested (after the drain, if any)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._stop_requested:
            if self._drain_left > 0 and self._items:
                self._drain_left -= 1
                item = self._take()
            else:
                item = STOP
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        if self._items:
            item = self._take()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        self._consumer = trio.lowlevel.current_task()
        return await trio.lowlevel.wait_task_rescheduled(self._abort_get)

    def _abort_get(self, _: Any) -> trio.lowlevel.Abort:
        self._consumer = None
        return trio.lowlevel.Abort.SUCCEEDED

    # -- lifecycle ------------------------------------------------------------------------

    def request_stop(self, *, drain: bool) -> None:
        """Make the consumer return ``STOP``: at once (after the current message), or with ``drain``
        after the messages queued at this moment. Later messages stay for a next incarnation."""
        self._stop_requested = True
        self._drain_left = self.depth if drain else 0
        consumer = self._consumer
        if consumer is not None:  # parked, so nothing is queued
            self._consumer = None
            trio.lowlevel.reschedule(consumer, outcome.Value(STOP))

    def reopen(self) -> None:
        """Clear a stop request before a new incarnation starts (a closed box stays shut)."""
        if self._closed:
            return
        self._stop_requested = False
        self._drain_left = 0

    def close(self) -> list[Any]:
        """Refuse new messages for good; fail blocked senders; return what was still queued."""
        self._closed = True
        self._stop_requested = True
        self._drain_left = 0
        while self._senders:
            task, _ = self._senders.popitem(last=False)  # the box is closed: they get an error
            trio.lowlevel.reschedule(task, outcome.Error(ActorStopped("actor stopped")))
        leftover = list(self._items or ())
        self._items = None
        consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            trio.lowlevel.reschedule(consumer, outcome.Value(STOP))
        return leftover
