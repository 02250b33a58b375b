"""Worker threads for blocking libraries and an asyncio thread for asyncio-only ones."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio
import trio.testing

from csms.runtime import AsyncioThread, WorkerThreads


async def test_worker_threads_run_off_the_trio_thread():
    threads = WorkerThreads(2, name="db")
    trio_thread = threading.get_ident()
    ident = await threads.run(threading.get_ident)
    assert ident != trio_thread
    assert await threads.run(sum, [1, 2, 3]) == 6
    assert threads.calls == 2


async def test_worker_threads_respect_their_capacity():
    threads = WorkerThreads(2)
    release = threading.Event()
    entered = threading.Semaphore(0)
    active = []
    peak = []
    lock = threading.Lock()

    def blocking() -> None:
        with lock:
            active.append(1)
            peak.append(len(active))
        entered.release()
        release.wait()
        with lock:
            active.pop()

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(threads.run, blocking)
        for _ in range(2):
            await trio.to_thread.run_sync(entered.acquire)
        await trio.testing.wait_all_tasks_blocked()
        assert threads.busy == 2
        release.set()
    assert max(peak) == 2
    assert threads.busy == 0


async def test_cancelled_worker_call_still_finishes_before_the_caller_moves_on():
    threads = WorkerThreads(1)
    started = threading.Event()
    release = threading.Event()
    finished = []

    def commit() -> None:
        started.set()
        release.wait()
        finished.append(True)

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(threads.run, commit)
            await trio.to_thread.run_sync(started.wait)
            scope.cancel()
            release.set()
    assert finished == [True]  # the cancelled caller waited for the COMMIT to end


async def test_asyncio_thread_runs_coroutines_and_returns_results():
    bridge = AsyncioThread(name="nats")
    await bridge.start()
    try:

        async def add(a: int, b: int) -> int:
            await asyncio.sleep(0)
            return a + b

        assert await bridge.run(add, 2, 3) == 5

        async def boom() -> None:
            raise LookupError("from asyncio")

        with pytest.raises(LookupError, match="from asyncio"):
            await bridge.run(boom)
    finally:
        await bridge.stop()
    with pytest.raises(RuntimeError, match="not running"):
        await bridge.run(asyncio.sleep, 0)


async def test_cancelling_the_trio_caller_cancels_the_asyncio_task_and_waits_for_it():
    bridge = AsyncioThread()
    await bridge.start()
    seen: list[str] = []
    entered = threading.Event()

    async def long_running() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("cleaned up")

    try:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bridge.run, long_running)
                await trio.to_thread.run_sync(entered.wait)
                scope.cancel()
        assert seen == ["cancelled", "cleaned up"]
    finally:
        await bridge.stop()
