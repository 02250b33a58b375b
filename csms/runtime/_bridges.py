"""Bridges to code that cannot run on the trio thread: blocking libraries and asyncio-only ones."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")


class WorkerThreads:
    """A capacity-limited set of worker threads for blocking calls (sync psycopg, file I/O).

    Cancellation-safe: a cancelled caller still waits for its call to finish, because abandoning a
    thread in the middle of, say, a COMMIT would leave nobody knowing whether it happened.
    """

    def __init__(self, capacity: int, *, name: str = "worker") -> None:
        if capacity < 1:
            raise ValueError(f"worker capacity must be at least 1, got {capacity}")
        self.name = name
        self.limiter = trio.CapacityLimiter(capacity)
        self.calls = 0

    @property
    def busy(self) -> int:
        return int(self.limiter.borrowed_tokens)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        self.calls += 1
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)


class AsyncioThread:
    """One asyncio event loop on a dedicated thread, for asyncio-only libraries (nats-py).

    ``run`` schedules a coroutine there and waits for it from trio; cancelling the trio caller
    cancels the asyncio task and waits until it has really finished.
    """

    def __init__(self, *, name: str = "asyncio") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"asyncio thread {self.name!r} is not running")
        return self._loop

    async def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=main, name=f"asyncio-{self.name}", daemon=True)
        self._thread.start()
        await trio.to_thread.run_sync(ready.wait)
        self._loop = loop

    async def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        loop = self.loop
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        results: list[outcome.Outcome[T]] = []
        tasks: list[asyncio.Task[None]] = []

        async def body() -> None:  # runs on the asyncio thread
            try:
                results.append(outcome.Value(await fn(*args)))
            except BaseException as exc:  # CancelledError included: it is reported, not lost
                results.append(outcome.Error(exc))
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(done.set)

        def cancel() -> None:
            for task in tasks:
                task.cancel()

        loop.call_soon_threadsafe(lambda: tasks.append(loop.create_task(body())))
        try:
            await done.wait()
        except trio.Cancelled:
            loop.call_soon_threadsafe(cancel)  # queued after the spawn, so the task exists
            with trio.CancelScope(shield=True):
                await done.wait()
            raise
        return results[0].unwrap()

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        future = asyncio.run_coroutine_threadsafe(cancel_all(), loop)
        await trio.to_thread.run_sync(future.result)
        loop.call_soon_threadsafe(loop.stop)
        await trio.to_thread.run_sync(thread.join)
        self._thread = None
