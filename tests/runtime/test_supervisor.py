"""Static supervisors: strategies, restart types, intensity, backoff, start and stop order."""

from __future__ import annotations

import math
import random

import pytest
import trio
import trio.testing

from csms.runtime import (
    ActorCrashed,
    ActorStopped,
    Backoff,
    ChildSpec,
    RestartIntensity,
    RestartIntensityExceeded,
    RestartType,
    StartupFailed,
    Strategy,
    Supervisor,
)

from .helpers import Journal, probe

NO_DELAY = Backoff(initial=0, jitter=0)


def specs(journal: Journal, names: str = "abc", **kwargs: object) -> list[ChildSpec]:
    return [ChildSpec.actor(n, probe(n, journal), **kwargs) for n in names]  # type: ignore[arg-type]


async def crash(sup: Supervisor, name: str) -> None:
    with pytest.raises(ActorCrashed):
        await sup.ref(name).ask("crash", timeout=1)


async def test_children_start_in_order_and_stop_in_reverse(clock, journal):
    sup = Supervisor(Strategy.ONE_FOR_ONE, specs(journal), backoff=NO_DELAY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert journal.names("start") == ["a", "b", "c"]
        await sup.stop()
    assert journal.names("stop") == ["c", "b", "a"]
    assert not sup.running


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        (Strategy.ONE_FOR_ONE, ["b"]),
        (Strategy.ONE_FOR_ALL, ["a", "b", "c"]),
        (Strategy.REST_FOR_ONE, ["b", "c"]),
    ],
)
async def test_strategies_restart_the_right_children(clock, journal, strategy, restarted):
    sup = Supervisor(strategy, specs(journal), backoff=NO_DELAY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await crash(sup, "b")
        await journal.wait_for(lambda j: len(j.of("start")) == 3 + len(restarted))
        assert journal.names("start")[3:] == restarted  # started again in order
        stopped = journal.names("stop")
        assert stopped[0] == "b"  # the crash
        # the others in the group were stopped in reverse order before the restart
        assert stopped[1:] == [n for n in reversed(restarted) if n != "b"]
        generations = {n: sup.ref(n).generation for n in "abc"}
        assert generations == {n: 2 if n in restarted else 1 for n in "abc"}
        assert sup.restarts == 1
        assert sup.crashes == 1
        await sup.stop()


async def test_siblings_keep_their_queued_messages_across_a_group_restart(clock, journal):
    sup = Supervisor(Strategy.ONE_FOR_ALL, specs(journal, "ab"), backoff=NO_DELAY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        gate = trio.Event()
        await sup.ref("b").tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        await sup.ref("b").tell("survives")
        await crash(sup, "a")
        await journal.wait_count("start", "b", 2)
        assert await sup.ref("b").ask("after", timeout=1) == "after"
        received = [e[2] for e in journal.of("receive") if e[1] == "b"]
        assert received[-2:] == ["survives", "after"]
        gate.set()
        await sup.stop()


@pytest.mark.parametrize(
    ("restart", "after_crash", "after_exit"),
    [
        (RestartType.PERMANENT, True, True),
        (RestartType.TRANSIENT, True, False),
        (RestartType.TEMPORARY, False, False),
    ],
)
async def test_restart_types(clock, journal, restart, after_crash, after_exit):
    children = [
        ChildSpec.actor("crasher", probe("crasher", journal), restart=restart),
        ChildSpec.actor("quitter", probe("quitter", journal), restart=restart),
    ]
    sup = Supervisor(Strategy.ONE_FOR_ONE, children, backoff=NO_DELAY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await crash(sup, "crasher")
        assert await sup.ref("quitter").ask("exit", timeout=1) == "bye"
        await trio.testing.wait_all_tasks_blocked()
        assert journal.names("start").count("crasher") == (2 if after_crash else 1)
        assert journal.names("start").count("quitter") == (2 if after_exit else 1)
        assert sup.ref("crasher").alive is after_crash
        if not after_exit:
            with pytest.raises(ActorStopped):
                await sup.ref("quitter").ask("anyone?", timeout=1)
        await sup.stop()


async def test_intensity_exceeded_escalates_and_stops_siblings_in_reverse(clock, journal):
    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        specs(journal, "abcd"),
        intensity=RestartIntensity(max_restarts=2, within=10),
        backoff=NO_DELAY,
        name="root",
    )
    expected = pytest.RaisesExc(RestartIntensityExceeded, match="root: more than 2 restarts in 10")
    with pytest.RaisesGroup(expected):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            for _ in range(3):
                await crash(sup, "b")
                await trio.testing.wait_all_tasks_blocked()
    assert sup.restarts == 2
    assert sup.crashes == 3
    # after the third crash of b: d, c, a stop in reverse order (b is already down)
    assert journal.names("stop")[-3:] == ["d", "c", "a"]


async def test_restarts_outside_the_window_do_not_accumulate(clock, journal):
    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        specs(journal, "a"),
        intensity=RestartIntensity(max_restarts=1, within=5),
        backoff=NO_DELAY,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for _ in range(4):
            await crash(sup, "a")
            await journal.wait_count("start", "a", sup.restarts + 1)
            await trio.sleep(6)  # virtual time: step past the intensity window (MockClock)
        assert sup.restarts == 4
        await sup.stop()


async def test_nested_supervisor_escalates_to_its_parent(clock, journal):
    inner = Supervisor(
        Strategy.ONE_FOR_ONE,
        specs(journal, "x"),
        intensity=RestartIntensity(max_restarts=0, within=10),
        backoff=NO_DELAY,
        name="inner",
    )
    root = Supervisor(
        Strategy.ONE_FOR_ONE,
        [ChildSpec.actor("a", probe("a", journal)), ChildSpec.supervisor("inner", inner)],
        backoff=NO_DELAY,
        name="root",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        x = inner.ref("x")
        await crash(inner, "x")
        # inner gives up at once; root restarts inner, which starts x again behind the same ref
        await journal.wait_count("start", "x", 2)
        assert inner.restarts == 0
        assert root.restarts == 1
        assert root.crashes == 1
        assert await x.ask("same address", timeout=1) == "same address"
        assert x.generation == 2
        assert journal.names("start").count("a") == 1
        await root.stop()
    assert journal.names("stop")[-2:] == ["x", "a"]


async def test_backoff_doubles_between_consecutive_restarts(clock, journal):
    backoff = Backoff(initial=1, multiplier=2, maximum=5, jitter=0, reset_after=100)
    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        specs(journal, "a"),
        intensity=RestartIntensity(max_restarts=10, within=1000),
        backoff=backoff,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        crash_times = []
        for generation in range(2, 7):
            crash_times.append(trio.current_time())
            await crash(sup, "a")
            await journal.wait_count("start", "a", generation)
        starts = [e[3] for e in journal.of("start")][1:]
        delays = [start - crashed for start, crashed in zip(starts, crash_times, strict=True)]
        assert delays == pytest.approx([1, 2, 4, 5, 5])
        await sup.stop()


async def test_backoff_resets_after_a_stable_period(clock, journal):
    backoff = Backoff(initial=1, multiplier=3, maximum=100, jitter=0, reset_after=60)
    sup = Supervisor(Strategy.ONE_FOR_ONE, specs(journal, "a"), backoff=backoff)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await crash(sup, "a")
        await journal.wait_count("start", "a", 2)
        await trio.sleep(61)  # virtual time: a stable run longer than reset_after (MockClock)
        crashed_at = trio.current_time()
        await crash(sup, "a")
        await journal.wait_count("start", "a", 3)
        assert journal.of("start")[-1][3] - crashed_at == pytest.approx(1)
        await sup.stop()


def test_backoff_jitter_stays_in_its_band():
    backoff = Backoff(initial=2, multiplier=2, maximum=100, jitter=0.25)
    rng = random.Random(7)
    for attempt in range(1, 6):
        base = 2 * 2 ** (attempt - 1)
        samples = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(base * 0.75 <= s <= base * 1.25 for s in samples)
        assert max(samples) - min(samples) > base * 0.25  # it does spread


async def test_startup_failure_stops_started_children_and_raises(clock, journal):
    children = [
        ChildSpec.actor("a", probe("a", journal)),
        ChildSpec.actor("b", probe("b", journal)),
        ChildSpec.actor("c", probe("c", journal, fail_start=True)),
        ChildSpec.actor("d", probe("d", journal)),
    ]
    sup = Supervisor(Strategy.ONE_FOR_ONE, children, name="root")
    async with trio.open_nursery() as nursery:
        with pytest.raises(StartupFailed, match="root/c failed to start") as info:
            await nursery.start(sup.run)  # a startup failure reaches the starter unwrapped
    assert isinstance(info.value.__cause__, OSError)
    assert journal.names("start") == ["a", "b"]
    assert journal.names("stop") == ["c", "b", "a"]  # c's own on_stop, then reverse order


async def test_a_restart_that_fails_to_start_counts_against_intensity(clock, journal):
    attempts = {"n": 0}

    def flaky():
        attempts["n"] += 1
        return probe("a", journal, fail_start=attempts["n"] > 1)()

    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        [ChildSpec.actor("a", flaky)],
        intensity=RestartIntensity(max_restarts=3, within=100),
        backoff=NO_DELAY,
    )
    with pytest.RaisesGroup(RestartIntensityExceeded):
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await crash(sup, "a")
    assert attempts["n"] == 4  # first start + 3 restarts that failed to start
    assert sup.crashes == 4


async def test_slow_child_is_cancelled_after_its_shutdown_timeout(clock, journal):
    children = [
        ChildSpec.actor("a", probe("a", journal)),
        ChildSpec.actor("slow", probe("slow", journal), shutdown_timeout=3),
        ChildSpec.actor("c", probe("c", journal)),
    ]
    sup = Supervisor(Strategy.ONE_FOR_ONE, children)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await sup.ref("slow").tell(("sleep", 1000.0))
        await trio.testing.wait_all_tasks_blocked()
        started = trio.current_time()
        await sup.stop()
        assert trio.current_time() - started == pytest.approx(3)
    stops = journal.of("stop")
    assert [s[1] for s in stops] == ["c", "slow", "a"]
    assert stops[1][2] == "Cancelled"  # the graceful phase ran out: cancelled
    assert stops[0][2] is None
    assert stops[2][2] is None


async def test_final_flush_is_shielded_and_bounded(clock, journal):
    children = [
        ChildSpec.actor("flushes", probe("flushes", journal, stop_delay=2), shutdown_timeout=5),
        ChildSpec.actor("hangs", probe("hangs", journal, stop_delay=math.inf), shutdown_timeout=4),
    ]
    sup = Supervisor(Strategy.ONE_FOR_ONE, children)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        started = trio.current_time()
        nursery.cancel_scope.cancel()  # the harshest stop: cancellation from outside
    # "hangs" never finishes its flush: cut at its 4 s; "flushes" completes its 2 s flush
    assert journal.names("stop") == ["flushes"]
    assert trio.current_time() - started == pytest.approx(4)


def test_child_names_must_be_unique(journal):
    with pytest.raises(ValueError, match="unique"):
        Supervisor(Strategy.ONE_FOR_ONE, specs(journal, "aa"))
