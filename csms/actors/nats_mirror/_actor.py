"""The NATS mirror actor (``nats_mirror``): every event of the node's bus, on JetStream.

It subscribes to the whole catalog with a bounded buffer (``nats.buffer`` events: the bus's
subscription queue) and publishes from it in batches: one trio -> asyncio crossing carries up to
``nats.batch_max`` events to its own ``AsyncioThread``, where nats-py publishes them and waits
for JetStream's acknowledgements. A batch that fails (NATS down, an ack late) is sent again, with
backoff, until it is acknowledged; the ``Nats-Msg-Id`` of each event keeps a resend from being
stored twice.

Charging never waits for it: the bus hands events over without waiting, and while NATS is down
or slow the buffer fills and what does not fit is dropped and counted (``MirrorStats.dropped``,
the ``csms_nats_mirror_dropped_total`` metric and a ``mirror.dropped`` warning with the counts).
"""

from __future__ import annotations

import logging
import random
from typing import Any

import trio

from csms.actors.events import EventBus, Subscription
from csms.config import NatsSettings
from csms.domain.events import Event
from csms.runtime import Actor, ActorContext, AsyncioThread, Backoff

from ._link import MirrorLink
from ._stats import MirrorStats

__all__ = ["NatsMirror"]

log = logging.getLogger("csms.nats")

#: How often a growing drop count is logged (``mirror.dropped``) at most.
DROP_REPORT_INTERVAL = 5.0


class NatsMirror(Actor):
    background_tasks = True

    def __init__(
        self,
        *,
        events: EventBus,
        settings: NatsSettings,
        url: str,
        node_id: str,
        stats: MirrorStats,
        subscription: Subscription | None = None,
    ) -> None:
        self.events = events
        #: Made by the child factory before the tree starts, so that the events of the
        #: children started before the mirror are mirrored too, and kept across restarts.
        self._given_sub = subscription
        self._own_drops_seen = 0
        self.settings = settings
        self.url = url
        self.node_id = node_id
        self.stats = stats
        self.thread = AsyncioThread(name="nats-mirror")
        self.link = MirrorLink(url, settings, name=f"csms-{node_id}-mirror", on_state=self._state)
        self.backoff = Backoff(initial=0.05, maximum=settings.reconnect_max_s, jitter=0.2)
        self._rng = random.Random()
        self._sub: Subscription | None = None
        self._batch: list[Event] = []  # the batch in hand, not yet acknowledged

    def _state(self, state: str) -> None:  # on the asyncio thread
        self.stats.connected = state in ("connected", "reconnected")
        if state in ("connected", "reconnected"):
            self.stats.connects += 1
        log.info(f"mirror.{state}", extra={"url": self.url})

    async def on_start(self, ctx: ActorContext) -> None:
        self._sub = self._given_sub or self.events.subscribe("", capacity=self.settings.buffer)
        await self.thread.start()
        self._connect_lock = trio.Lock()
        ctx.nursery.start_soon(self._connect_early)
        ctx.nursery.start_soon(self._pump)
        ctx.nursery.start_soon(self._report_drops)

    async def receive(self, message: Any) -> Any:
        log.warning("nats_mirror: unknown message ignored", extra={"kind": type(message).__name__})

    async def on_stop(self, reason: BaseException | None) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            if sub is not self._given_sub:
                self.events.unsubscribe(sub)
            left = list(self._batch)
            while True:
                try:
                    left.append(sub.receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            # One last try for what is in hand; what NATS does not take now is lost, counted.
            if left and self.link.connected:
                with trio.move_on_after(self.settings.ack_timeout_s):
                    self.stats.crossings += 1
                    stored = await self.thread.run(self.link.publish, left)
                    self.stats.stored += stored
                    self.stats.duplicates += len(left) - stored
                    left = []
            self.stats.dropped += len(left)
            self._count_bus_drops(sub)
        self._report()
        with trio.move_on_after(3):
            await self.thread.run(self.link.close)
        await self.thread.stop()

    # -- publishing ---------------------------------------------------------------------------

    async def _pump(self) -> None:
        sub = self._sub
        assert sub is not None
        limit = self.settings.batch_max
        while True:
            self._batch = batch = [await sub.receive.receive()]
            while len(batch) < limit:
                try:
                    batch.append(sub.receive.receive_nowait())
                except trio.WouldBlock:
                    break
            self.stats.received += len(batch)
            await self._deliver(batch)
            self._batch = []
            self._count_bus_drops(sub)

    async def _connect(self) -> None:
        async with self._connect_lock:  # the first batch may come while the start connects
            if not self.link.connected:
                await self.thread.run(self.link.connect)

    async def _connect_early(self) -> None:
        """Connect (and create the stream) at start, not at the first event."""
        attempt = 0
        while True:
            try:
                await self._connect()
                return
            except Exception as exc:
                attempt += 1
                if attempt == 1:
                    log.warning("mirror.unreachable", extra={"url": self.url, "error": repr(exc)})
                await trio.sleep(self.backoff.delay(attempt, self._rng))

    async def _deliver(self, batch: list[Event]) -> None:
        """Until NATS has acknowledged every event of ``batch``."""
        attempt = 0
        while True:
            try:
                await self._connect()
                self.stats.crossings += 1
                stored = await self.thread.run(self.link.publish, batch)
            except Exception as exc:  # NATS away, slow, or refusing: the batch is sent again
                attempt += 1
                if self._sub is not None:
                    self._count_bus_drops(self._sub)
                self.stats.retries += 1
                delay = self.backoff.delay(attempt, self._rng)
                level = logging.WARNING if attempt == 1 else logging.DEBUG
                log.log(
                    level,
                    "mirror.retry",
                    extra={"events": len(batch), "attempt": attempt, "error": repr(exc)},
                )
                await trio.sleep(delay)
                continue
            self.stats.stored += stored
            self.stats.duplicates += len(batch) - stored
            return

    # -- drops --------------------------------------------------------------------------------

    def _count_bus_drops(self, sub: Subscription) -> None:
        seen = self.stats.bus_drops_seen if sub is self._given_sub else self._own_drops_seen
        if sub.dropped > seen:
            self.stats.dropped += sub.dropped - seen
            if sub is self._given_sub:
                self.stats.bus_drops_seen = sub.dropped
            else:
                self._own_drops_seen = sub.dropped

    async def _report_drops(self) -> None:
        while True:
            await trio.sleep(DROP_REPORT_INTERVAL)
            if self._sub is not None:
                self._count_bus_drops(self._sub)
            self._report()

    def _report(self) -> None:
        new = self.stats.dropped - self.stats.reported_drops
        if new > 0:
            self.stats.reported_drops = self.stats.dropped
            log.warning(
                "mirror.dropped",
                extra={
                    "dropped": new,
                    "dropped_total": self.stats.dropped,
                    "stored_total": self.stats.stored,
                    "buffer": self.settings.buffer,
                },
            )
