"""The node's NATS connection for commands between nodes, on its own ``AsyncioThread``.

The remote gateway sends requests through it; the command server subscribes the command
subjects of the stations this node holds. Requests, their answers, the messages that arrive and
the replies sent cross between the threads in batches (``Crossings``); a request waits in one
map of requests in flight, its trio task rescheduled with the answer (no event per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
import outcome
import trio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from csms.runtime import AsyncioThread

from ._crossings import Crossings

__all__ = ["CommandLink", "Incoming", "NoResponders"]

log = logging.getLogger("csms.nats")


#: The queue group of every node's command subscriptions.
COMMAND_QUEUE = "csms-cmd"


class NoResponders(ConnectionError):
    """Nobody subscribes the subject: no node holds the station."""


#: (subject, data, reply subject) of a message received, as trio gets it.
Incoming = tuple[str, bytes, str]


class CommandLink:
    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name
        self.thread = AsyncioThread(name="nats-commands")
        self._nc: Client | None = None
        self._subs: dict[str, Subscription] = {}
        self.crossings: Crossings | None = None  # made at the first connect (trio's token)
        #: Requests in flight: id -> the trio task waiting for the answer.
        self._waiting: dict[int, trio.lowlevel.Task] = {}
        self._ids = itertools.count()
        self._replies: deque[tuple[str, bytes]] = deque()
        self._replying = False

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        await self.thread.start()

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError), trio.move_on_after(3):  # RuntimeError: not started
            await self.thread.run(self._close)
        await self.thread.stop()
        waiting, self._waiting = self._waiting, {}
        for task in waiting.values():  # an answer that can no longer come
            trio.lowlevel.reschedule(task, outcome.Error(ConnectionError("NATS link stopped")))

    # -- trio side ----------------------------------------------------------------------------

    async def connect(self, on_message: Callable[[Incoming], None]) -> None:
        """Connect (raises when NATS is not there: the caller retries). ``on_message`` is
        called on the trio thread for each message of a subscription."""
        if self.crossings is None or self.crossings.loop is not self.thread.loop:  # restarted
            token = trio.lowlevel.current_trio_token()
            self.crossings = Crossings(self.thread.loop, token)
        crossings = self.crossings

        async def handler(msg: Msg) -> None:  # asyncio thread
            crossings.to_trio(on_message, (msg.subject, msg.data, msg.reply))

        self._handler = handler
        await self.thread.run(self._connect)

    async def request(self, subject: str, data: bytes, timeout: float) -> bytes:
        """The reply's data; ``TimeoutError`` when none came in ``timeout``; ``NoResponders``
        when nobody subscribes ``subject``."""
        crossings = self.crossings
        if crossings is None or not self.connected:
            raise ConnectionError("not connected to NATS")
        key = next(self._ids)
        self._waiting[key] = trio.lowlevel.current_task()
        crossings.to_loop(self._start_request, key, subject, data, timeout)

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._waiting.pop(key, None)  # its answer, if one comes, is dropped
            return trio.lowlevel.Abort.SUCCEEDED

        answer: bytes = await trio.lowlevel.wait_task_rescheduled(abort)
        return answer

    def reply_nowait(self, subject: str, data: bytes) -> None:
        """Publish without waiting for the asyncio side (a reply: nobody here needs to know it
        went; the asker times out if it did not)."""
        if self.crossings is None:
            raise ConnectionError("not connected to NATS")
        self.crossings.to_loop(self._reply_soon, subject, data)

    async def subscribe(self, subjects: list[str]) -> None:
        await self.thread.run(self._subscribe, subjects)

    async def unsubscribe(self, subjects: list[str]) -> None:
        await self.thread.run(self._unsubscribe, subjects)

    def subscribed(self) -> set[str]:
        return set(self._subs)

    # -- asyncio side -------------------------------------------------------------------------

    async def _connect(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            return

        async def error(exc: Exception) -> None:
            log.debug("nats error", extra={"error": repr(exc)})

        self._nc = await nats.connect(
            self.url,
            name=self.name,
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=error,
        )
        self._subs = {}

    def _start_request(self, key: int, subject: str, data: bytes, timeout: float) -> None:
        self.thread.loop.create_task(self._request_for(key, subject, data, timeout))

    async def _request_for(self, key: int, subject: str, data: bytes, timeout: float) -> None:
        try:
            answer: outcome.Outcome[bytes] = outcome.Value(
                await self._request(subject, data, timeout)
            )
        except asyncio.CancelledError:  # the link stops: its caller is told so
            assert self.crossings is not None
            self.crossings.to_trio(self._answered, key, outcome.Error(ConnectionError("stopped")))
            raise
        except Exception as exc:
            answer = outcome.Error(exc)
        assert self.crossings is not None
        self.crossings.to_trio(self._answered, key, answer)

    def _answered(self, key: int, answer: outcome.Outcome[bytes]) -> None:  # trio thread
        task = self._waiting.pop(key, None)
        if task is not None:  # else its caller was cancelled meanwhile
            trio.lowlevel.reschedule(task, answer)

    def _reply_soon(self, subject: str, data: bytes) -> None:
        """Queue a reply; one task publishes whatever is queued (not a task per reply)."""
        self._replies.append((subject, data))
        if not self._replying:
            self._replying = True
            self.thread.loop.create_task(self._publish_replies())

    async def _publish_replies(self) -> None:
        try:
            while self._replies:
                subject, data = self._replies.popleft()
                try:
                    await self._publish(subject, data)
                except Exception as exc:  # its asker times out
                    log.debug("nats reply lost", extra={"error": repr(exc)})
        finally:
            self._replying = False

    async def _request(self, subject: str, data: bytes, timeout: float) -> bytes:
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("not connected to NATS")
        try:
            msg = await self._nc.request(subject, data, timeout=timeout)
        except nats.errors.NoRespondersError:
            raise NoResponders(subject) from None
        except nats.errors.TimeoutError:
            raise TimeoutError(f"no reply on {subject} within {timeout:.1f} s") from None
        return bytes(msg.data)

    async def _publish(self, subject: str, data: bytes) -> None:
        if self._nc is not None:
            await self._nc.publish(subject, data)

    async def _subscribe(self, subjects: list[str]) -> None:
        assert self._nc is not None
        for subject in subjects:
            if subject not in self._subs:
                # a command subject in a queue group: while a station moves between nodes
                # and both subscribe, one of them gets each command, never both
                queue = COMMAND_QUEUE if subject.endswith(".cmd") else ""
                self._subs[subject] = await self._nc.subscribe(
                    subject, queue=queue, cb=self._handler
                )
        with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
            await self._nc.flush(timeout=2)  # the server has them before the caller goes on

    async def _unsubscribe(self, subjects: list[str]) -> None:
        for subject in subjects:
            sub = self._subs.pop(subject, None)
            if sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()

    async def _close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(asyncio.TimeoutError, nats.errors.Error):
                await asyncio.wait_for(nc.drain(), timeout=2)
