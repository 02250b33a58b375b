"""The node's internal event bus (SPEC section 8).

It carries the events of the catalog (``csms/domain/events.py``, documented in docs/EVENTS.md):
``publish`` takes an event object, stamps it with the node's id, and hands it to every
subscriber whose prefix its subject starts with.

Publishing never waits: each subscriber has a bounded queue and a slow one loses events (counted)
rather than slowing down charging. The NATS mirror is one subscriber among others.
"""

from __future__ import annotations

import logging

import attrs
import trio

from csms.domain.events import Event

log = logging.getLogger("csms.events")


class Subscription:
    def __init__(self, prefix: str, capacity: int) -> None:
        self.prefix = prefix
        self.send, self.receive = trio.open_memory_channel[Event](capacity)
        self.dropped = 0

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class EventBus:
    def __init__(self, node_id: str) -> None:
        #: Stamped on every event published without one (the node owns its bus).
        self.node_id = node_id
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def publish(self, event: Event) -> None:
        """Hand ``event`` to the subscribers of its subject, stamped with the node's id if it
        has none (only when someone listens: an event nobody subscribes to costs no copy);
        never waits."""
        self.published += 1
        subject = event.subject
        for sub in list(self._subscriptions):
            if subject.startswith(sub.prefix):
                if not event.node_id:
                    event = attrs.evolve(event, node_id=self.node_id)
                try:
                    sub.send.send_nowait(event)
                except trio.WouldBlock:
                    sub.dropped += 1
                except trio.BrokenResourceError:
                    self._subscriptions.remove(sub)

    def subscribe(self, prefix: str = "", *, capacity: int = 10_000) -> Subscription:
        """Events whose subject starts with ``prefix``, from now on."""
        sub = Subscription(prefix, capacity)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            sub.send.close()
