"""The node's NATS connection for commands between nodes, on its own ``AsyncioThread``.

The remote gateway sends requests through it; the command server subscribes the command
subjects of the stations this node holds. A message that arrives is handed to trio with one
``run_sync_soon`` (no waiting on the asyncio side); replies cross back with one ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats
import nats.errors
import trio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from csms.runtime import AsyncioThread

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

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        await self.thread.start()

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError), trio.move_on_after(3):  # RuntimeError: not started
            await self.thread.run(self._close)
        await self.thread.stop()

    # -- trio side ----------------------------------------------------------------------------

    async def connect(self, on_message: Callable[[Incoming], None]) -> None:
        """Connect (raises when NATS is not there: the caller retries). ``on_message`` is
        called on the trio thread for each message of a subscription."""
        token = trio.lowlevel.current_trio_token()

        async def handler(msg: Msg) -> None:  # asyncio thread
            item = (msg.subject, msg.data, msg.reply)
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(on_message, item)

        self._handler = handler
        await self.thread.run(self._connect)

    async def request(self, subject: str, data: bytes, timeout: float) -> bytes:
        """The reply's data; ``TimeoutError`` when none came in ``timeout``; ``NoResponders``
        when nobody subscribes ``subject``."""
        return await self.thread.run(self._request, subject, data, timeout)

    async def reply(self, subject: str, data: bytes) -> None:
        await self.thread.run(self._publish, subject, data)

    def reply_nowait(self, subject: str, data: bytes) -> None:
        """Publish without waiting for the asyncio side (a reply: nobody here needs to know it
        went; the asker times out if it did not). Saves the trio wake-up of ``reply``."""
        loop = self.thread.loop
        loop.call_soon_threadsafe(lambda: loop.create_task(self._publish(subject, data)))

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
