"""Batched handoffs between the trio thread and the command link's asyncio thread.

Each side queues calls for the other and wakes it once per batch, not once per call: under load
(hundreds of commands in flight) a wake-up (a write to the asyncio loop's self-pipe, a trio
``run_sync_soon``) carries every call queued since the last one, instead of one wake-up, one
closure and one ``trio.Event`` per request, reply and message as ``AsyncioThread.run`` makes.

The flags are only set by the side that queues and cleared by the side that drains, before it
drains: a call queued while the other side drains is either taken by that drain or wakes it
again (an extra, empty drain at worst). The interpreter lock makes each deque operation atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["Crossings"]


class Crossings:
    def __init__(self, loop: asyncio.AbstractEventLoop, token: trio.lowlevel.TrioToken) -> None:
        self.loop = loop
        self._token = token
        self._to_loop: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._loop_woken = False
        self._to_trio: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._trio_woken = False
        #: Wake-ups of each side (a batch each), for the benchmark and the tests.
        self.loop_wakeups = 0
        self.trio_wakeups = 0

    def to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """On the trio thread: call ``fn(*args)`` soon on the asyncio thread."""
        self._to_loop.append((fn, args))
        if not self._loop_woken:
            self._loop_woken = True
            self.loop.call_soon_threadsafe(self._drain_loop)

    def to_trio(self, fn: Callable[..., Any], *args: Any) -> None:
        """On the asyncio thread: call ``fn(*args)`` soon on the trio thread (dropped when the
        trio run has ended: nobody is left to tell)."""
        self._to_trio.append((fn, args))
        if not self._trio_woken:
            self._trio_woken = True
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._drain_trio)

    def _drain_loop(self) -> None:
        self._loop_woken = False
        self.loop_wakeups += 1
        _drain(self._to_loop)

    def _drain_trio(self) -> None:
        self._trio_woken = False
        self.trio_wakeups += 1
        _drain(self._to_trio)


def _drain(queue: deque[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
    while queue:
        fn, args = queue.popleft()
        fn(*args)
