"""Dead-peer detection for every connection of a listener, from one task.

A task (with its nursery and timers) per connection would be the largest part of an idle
station's memory; one scheduler per listener costs a queue entry per connection instead. Every
connection uses the same interval and the same timeout, so entries become due in the order they
were queued: two FIFO queues ordered by due time do what a timer heap would.

Ping ``n`` of a connection is answered by any pong carrying ``n`` or a later number (a peer may
answer only the latest of several pings, RFC 6455 §5.5.3). A connection with no such pong
``timeout`` seconds after the ping is dropped without a close frame: the peer is not listening.
"""

from __future__ import annotations

import math
from collections import deque

import trio

from ._connection import OcppWebSocket


class Keepalive:
    """Pings each watched connection every ``interval`` seconds, drops it after ``timeout``."""

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self._pings: deque[tuple[float, OcppWebSocket]] = deque()
        self._checks: deque[tuple[float, OcppWebSocket, int]] = deque()
        self._sleep: trio.CancelScope | None = None

    def watch(self, conn: OcppWebSocket) -> None:
        """Start pinging ``conn``; it leaves the queues by itself once closed."""
        due = trio.current_time() + self.interval
        self._pings.append((due, conn))
        if self._sleep is not None and due < self._sleep.deadline:
            self._sleep.deadline = due

    def _next_due(self) -> float:
        due = math.inf
        if self._pings:
            due = self._pings[0][0]
        if self._checks and self._checks[0][0] < due:
            due = self._checks[0][0]
        return due

    async def run(self, nursery: trio.Nursery) -> None:
        """Run until cancelled; pings and drops run as short tasks in ``nursery`` (a socket write
        may block on a peer that stopped reading, and must not hold up everyone else's pings)."""
        while True:
            with trio.CancelScope(deadline=self._next_due()) as sleep:
                self._sleep = sleep
                await trio.sleep_forever()
            self._sleep = None
            now = trio.current_time()
            checks = self._checks
            while checks and checks[0][0] <= now:
                _, conn, number = checks.popleft()
                if not conn.closed and not conn.answered_ping(number):
                    conn.fail_unresponsive()  # closed from now on: no more pings are sent
                    nursery.start_soon(conn.abort, name="csms.transport.keepalive")
            pings = self._pings
            while pings and pings[0][0] <= now:
                _, conn = pings.popleft()
                if conn.closed:
                    continue
                number = conn.next_ping_number()
                nursery.start_soon(conn.send_ping, number, name="csms.transport.keepalive")
                checks.append((now + self.timeout, conn, number))
                pings.append((now + self.interval, conn))
