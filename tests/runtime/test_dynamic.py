"""The dynamic supervisor and its registry: thousands of children, names, replacement, restarts."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from csms.runtime import (
    ActorCrashed,
    ActorStopped,
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    NameTaken,
    RestartIntensity,
    RestartIntensityExceeded,
    RestartType,
    StartupFailed,
)

from .helpers import Journal, probe


def station(
    name: str, journal: Journal, restart: RestartType = RestartType.PERMANENT, **kwargs: object
) -> ChildSpec:
    return ChildSpec.actor(name, probe(name, journal, **kwargs), kind="station", restart=restart)


async def test_ten_thousand_children_start_and_stop_cleanly(clock, journal):
    dyn = DynamicSupervisor(name="stations")
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        refs = [
            await dyn.start_child(
                station(f"CP{n:05}", journal, restart=RestartType.TEMPORARY), name=f"CP{n:05}"
            )
            for n in range(10_000)
        ]
        assert len(dyn) == 10_000
        assert len(dyn.registry.names()) == 10_000
        assert await refs[9_999].ask("ping", timeout=1) == "ping"
        assert dyn.registry.lookup("CP04242") is refs[4242]
        await dyn.stop()
    assert len(journal.of("stop")) == 10_000
    assert all(e[2] is None for e in journal.of("stop"))  # every one stopped gracefully
    assert len(dyn) == 0
    assert not any(ref.alive for ref in refs)
    assert dyn.registry.names() == []


async def test_registered_name_is_taken_unless_replaced(clock, journal):
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        first = await dyn.start_child(station("CP1", journal), name="CP1")
        with pytest.raises(NameTaken, match="CP1"):
            await dyn.start_child(station("CP1", journal), name="CP1")
        second = await dyn.start_child(station("CP1", journal), name="CP1", replace=True)
        assert second is not first
        assert not first.alive
        assert dyn.registry.lookup("CP1") is second
        assert len(dyn) == 1
        with pytest.raises(ActorStopped):
            await first.ask("old connection", timeout=1)
        await dyn.stop()


async def test_stop_child_unregisters_and_fails_queued_asks(clock, journal):
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        ref = await dyn.start_child(station("CP1", journal), name="CP1")
        gate = trio.Event()
        await ref.tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        await dyn.stop_child(ref)  # graceful phase times out (5 s virtual), then cancel
        assert dyn.registry.lookup("CP1") is None
        assert len(dyn) == 0
        with pytest.raises(ActorStopped):
            await ref.tell("gone")
        await dyn.stop()


async def test_permanent_child_is_restarted_on_its_own(clock, journal):
    dyn = DynamicSupervisor(backoff=Backoff(initial=2, jitter=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        a = await dyn.start_child(station("A", journal), name="A")
        b = await dyn.start_child(station("B", journal), name="B")
        with pytest.raises(ActorCrashed):
            await a.ask("crash", timeout=1)
        # B answers while A waits out its backoff
        before = trio.current_time()
        assert await b.ask("B works", timeout=1) == "B works"
        assert trio.current_time() == before
        assert await a.ask("A is back", timeout=10) == "A is back"
        assert a.generation == 2
        assert dyn.registry.lookup("A") is a
        assert dyn.restarts == 1
        await dyn.stop()


async def test_temporary_child_that_crashes_is_forgotten(clock, journal):
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        ref = await dyn.start_child(
            station("CP1", journal, restart=RestartType.TEMPORARY), name="CP1"
        )
        with pytest.raises(ActorCrashed):
            await ref.ask("crash", timeout=1)
        await trio.testing.wait_all_tasks_blocked()
        assert len(dyn) == 0
        assert dyn.registry.lookup("CP1") is None
        assert dyn.crashes == 1
        other = await dyn.start_child(station("CP2", journal), name="CP2")
        assert await other.ask("unaffected", timeout=1) == "unaffected"
        await dyn.stop()


async def test_startup_failure_reaches_the_caller_and_leaves_nothing_behind(clock, journal):
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        with pytest.raises(StartupFailed) as info:
            await dyn.start_child(station("bad", journal, fail_start=True), name="bad")
        assert isinstance(info.value.__cause__, OSError)
        assert len(dyn) == 0
        assert dyn.registry.lookup("bad") is None
        await dyn.stop()


async def test_intensity_exceeded_stops_every_child_and_escalates(clock, journal):
    dyn = DynamicSupervisor(
        intensity=RestartIntensity(max_restarts=2, within=60), backoff=Backoff(initial=0, jitter=0)
    )
    with pytest.RaisesGroup(RestartIntensityExceeded):
        async with trio.open_nursery() as nursery:
            await nursery.start(dyn.run)
            bystander = await dyn.start_child(station("calm", journal))
            crasher = await dyn.start_child(station("crasher", journal))
            for _ in range(3):
                await crasher.tell("crash")
                await trio.testing.wait_all_tasks_blocked()
    assert not bystander.alive
    assert journal.of("stop")[-1][1:3] == ("calm", None)


async def test_start_child_after_stop_is_refused(clock, journal):
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        await dyn.stop()
    with pytest.raises(ActorStopped):
        await dyn.start_child(station("late", journal))
