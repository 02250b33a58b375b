"""Random crash schedules against a two-level supervision tree, checked against a model.

Invariants: every ask gets an answer (no lost reply channel), restarts and incarnations are
exactly what the strategies prescribe, escalation happens exactly when the model says, and no
task outlives the tree.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.runtime import (
    ActorCrashed,
    ActorStopped,
    Backoff,
    ChildSpec,
    RestartIntensity,
    RestartIntensityExceeded,
    Strategy,
    Supervisor,
)

from .helpers import Journal, probe

ROOT = ["a", "b", "inner", "c"]
INNER = ["x", "y"]
ACTORS = ["a", "b", "c", "x", "y"]


class Window:
    def __init__(self, intensity: RestartIntensity) -> None:
        self.intensity = intensity
        self.times: list[float] = []

    def record(self, now: float) -> bool:
        self.times = [t for t in self.times if t > now - self.intensity.within] + [now]
        return len(self.times) <= self.intensity.max_restarts


def group(strategy: Strategy, order: list[str], name: str) -> list[str]:
    if strategy is Strategy.ONE_FOR_ONE:
        return [name]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    return order[order.index(name) :]


class Model:
    """What the tree must look like after each crash."""

    def __init__(self, root: Strategy, inner: Strategy, ri: RestartIntensity, ii: RestartIntensity):
        self.root, self.inner = root, inner
        self.root_window, self.inner_intensity = Window(ri), ii
        self.inner_window = Window(ii)
        self.generation = dict.fromkeys(ACTORS, 1)
        self.root_restarts = self.inner_restarts = 0
        self.escalated = False

    def _restart_root_members(self, members: list[str]) -> None:
        for member in members:
            if member == "inner":
                self.inner_window = Window(self.inner_intensity)  # a fresh run, a fresh window
                for child in INNER:
                    self.generation[child] += 1
            else:
                self.generation[member] += 1

    def _root_crash(self, name: str, now: float) -> None:
        if not self.root_window.record(now):
            self.escalated = True
            return
        self.root_restarts += 1
        self._restart_root_members(group(self.root, ROOT, name))

    def crash(self, name: str, now: float) -> None:
        if name in INNER:
            if self.inner_window.record(now):
                self.inner_restarts += 1
                for member in group(self.inner, INNER, name):
                    self.generation[member] += 1
            else:
                self._root_crash("inner", now)
        else:
            self._root_crash(name, now)


class TaskCounter(trio.abc.Instrument):
    def __init__(self) -> None:
        self.live: set[trio.lowlevel.Task] = set()

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.live.add(task)

    def task_exited(self, task: trio.lowlevel.Task) -> None:
        self.live.discard(task)


strategies = st.sampled_from(list(Strategy))
intensities = st.builds(
    RestartIntensity, max_restarts=st.integers(0, 4), within=st.sampled_from([1.0, 5.0, 30.0])
)
schedules = st.lists(
    st.tuples(st.sampled_from(ACTORS), st.sampled_from([0.0, 0.5, 2.0, 10.0])), max_size=12
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies, strategies, intensities, intensities, schedules)
def test_random_crash_schedules_keep_the_tree_consistent(
    root_strategy: Strategy,
    inner_strategy: Strategy,
    root_intensity: RestartIntensity,
    inner_intensity: RestartIntensity,
    schedule: list[tuple[str, float]],
) -> None:
    model = Model(root_strategy, inner_strategy, root_intensity, inner_intensity)
    journal = Journal()
    counter = TaskCounter()
    no_delay = Backoff(initial=0, jitter=0)
    outcomes: list[Any] = []

    async def main() -> None:
        inner = Supervisor(
            inner_strategy,
            [ChildSpec.actor(n, probe(n, journal)) for n in INNER],
            intensity=inner_intensity,
            backoff=no_delay,
            name="inner",
        )
        children = [
            ChildSpec.supervisor(n, inner)
            if n == "inner"
            else ChildSpec.actor(n, probe(n, journal))
            for n in ROOT
        ]
        root = Supervisor(
            root_strategy, children, intensity=root_intensity, backoff=no_delay, name="root"
        )
        refs = {n: (inner.ref(n) if n in INNER else root.ref(n)) for n in ACTORS}

        async def ask(name: str, message: object) -> None:
            try:
                outcomes.append(await refs[name].ask(message, timeout=1000))
            except (ActorCrashed, ActorStopped) as exc:
                outcomes.append(type(exc))

        async def drive() -> None:
            async with trio.open_nursery() as askers:
                for name, gap in schedule:
                    await trio.sleep(gap)  # virtual time (MockClock): spreads crashes over windows
                    for other in ACTORS:
                        askers.start_soon(ask, other, f"hello {other}")
                    model.crash(name, trio.current_time())  # no time passes until it is handled
                    await ask(name, "crash")
                    await trio.testing.wait_all_tasks_blocked()
                    if model.escalated:
                        return
                    assert {n: refs[n].generation for n in ACTORS} == model.generation
                    assert root.restarts == model.root_restarts
                    assert inner.restarts == model.inner_restarts
            await root.stop()

        escalated = False
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(root.run)
                nursery.start_soon(drive)
        except* RestartIntensityExceeded:
            escalated = True
        assert escalated == model.escalated

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[counter])
    # Every ask was answered: a reply, or a clear error; never silence (that would be AskTimeout).
    assert len(outcomes) == len(schedule) * (len(ACTORS) + 1) or model.escalated
    assert all(o in (ActorCrashed, ActorStopped) or isinstance(o, str) for o in outcomes)
    # No orphan: nothing the tree spawned is still alive.
    assert counter.live == set()
