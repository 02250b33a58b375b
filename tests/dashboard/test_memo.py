"""The dashboard's memo: however many pages ask for a figure at once, it is computed once."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from csms.api.dashboard._core import Memo


async def test_pages_asking_while_a_figure_is_computed_share_one_computation():
    memo = Memo()
    calls = 0
    release = trio.Event()
    results: list[int] = []

    async def make() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    async def ask() -> None:
        results.append(await memo.get("counts", 5.0, make))

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(ask)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert calls == 1
    assert results == [1] * 50


async def test_a_failed_computation_is_retried_by_a_waiting_page():
    memo = Memo()
    attempts: list[str] = []
    first_may_fail = trio.Event()
    answers: list[str] = []

    async def fails() -> str:
        attempts.append("fails")
        await first_may_fail.wait()
        raise RuntimeError("database gone")

    async def works() -> str:
        attempts.append("works")
        return "42"

    async def first() -> None:
        with pytest.raises(RuntimeError):
            await memo.get("energy", 15.0, fails)

    async def second() -> None:
        answers.append(await memo.get("energy", 15.0, works))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(second)
        await trio.testing.wait_all_tasks_blocked()
        assert attempts == ["fails"]  # the second page waits rather than querying too
        first_may_fail.set()
    assert attempts == ["fails", "works"]
    assert answers == ["42"]


async def test_a_figure_is_computed_again_once_it_is_older_than_its_ttl(autojump_clock):
    memo = Memo()
    calls = 0

    async def make() -> int:
        nonlocal calls
        calls += 1
        return calls

    assert await memo.get("energy", 15.0, make) == 1
    await trio.sleep(14)
    assert await memo.get("energy", 15.0, make) == 1
    await trio.sleep(2)
    assert await memo.get("energy", 15.0, make) == 2


async def test_the_figures_of_past_batches_make_room_for_new_ones_not_the_long_lived(
    autojump_clock,
):
    memo = Memo()
    computed: list[str] = []

    async def make(key: str) -> str:
        computed.append(key)
        return key

    await memo.get("prices", 60.0, lambda: make("prices"))
    for version in range(3 * Memo.MAX_KEYS):  # a key per batch of events, each kept 5 s
        await memo.get(f"counts:{version}", 5.0, lambda v=version: make(f"counts:{v}"))
        await trio.sleep(0.2)
    assert await memo.get("prices", 60.0, lambda: make("prices")) == "prices"
    assert computed.count("prices") == 1
