"""The node's internal event bus (SPEC section 8).

Publishing never waits: each subscriber has a bounded queue and a slow one loses events (counted)
rather than slowing down charging. The NATS mirror is one subscriber among others.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import trio

log = logging.getLogger("csms.events")

#: Version of the JSON body of every event; bumped on an incompatible change.
SCHEMA_VERSION = 1


@attrs.frozen
class BusEvent:
    subject: str  # e.g. "ocpp.command.sent", "station.connected"
    body: Mapping[str, Any]
    at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "subject": self.subject,
            "at": self.at.isoformat(),
            **self.body,
        }


class Subscription:
    def __init__(self, prefix: str, capacity: int) -> None:
        self.prefix = prefix
        self.send, self.receive = trio.open_memory_channel[BusEvent](capacity)
        self.dropped = 0

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> BusEvent:
        try:
            return await self.receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def publish(self, subject: str, **body: Any) -> None:
        event = BusEvent(subject, body, dt.datetime.now(dt.UTC))
        self.published += 1
        for sub in list(self._subscriptions):
            if subject.startswith(sub.prefix):
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
