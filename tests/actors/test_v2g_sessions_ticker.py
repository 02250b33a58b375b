"""The discharge sessions' one timer (csms/actors/v2g/_ticker.py) and what the sessions do with
it, on trio's ``MockClock`` (time moves only when a test jumps it):

- a session is told a tick once its deadline has passed, never before, at most one tick
  interval late; a moved or removed deadline is not told; a full mailbox is retried;
- sessions resumed from the database end at their duration's end and at the disconnect grace
  on time, all through one ticker (one trio task per session: its mailbox's);
- a stopped session leaves the ticker.
"""

from __future__ import annotations

import datetime as dt
import uuid

import trio
import trio.testing

from csms.actors.v2g import V2G_SESSIONS, StopDischarge
from csms.actors.v2g._ticker import SessionTicker
from csms.runtime import ActorRef
from csms.runtime._mailbox import Mailbox
from csms.services.v2g_session import SessionPolicy

from ..services.v2g_examples import SP
from ..simulator.v2g_end_to_end import hang_guard
from .v2g_sessions_rig import (
    BASE,
    INTERVAL,
    Clock,
    all_tasks,
    discharging,
    resumed,
    sessions_node,
    store,
)


def refs(count: int, capacity: int = 4) -> list[ActorRef]:
    return [ActorRef("v2g_session", str(n), Mailbox(capacity)) for n in range(count)]


def ticks(ref: ActorRef) -> int:
    return ref.mailbox_depth


# -- the ticker alone ----------------------------------------------------------------------------


async def test_a_tick_comes_once_the_deadline_has_passed_and_not_before(mock_clock, nursery):
    clock = Clock()
    ticker = SessionTicker(clock, INTERVAL)
    await nursery.start(ticker.run)
    [ref] = refs(1)
    ticker.set(ref, clock() + dt.timedelta(seconds=30))
    mock_clock.jump(29.999)
    await trio.testing.wait_all_tasks_blocked()
    assert ticks(ref) == 0
    mock_clock.jump(INTERVAL + 0.002)  # at most one interval late
    await trio.testing.wait_all_tasks_blocked()
    assert ticks(ref) == 1
    assert ref not in ticker  # told once: the session gives its next deadline itself
    mock_clock.jump(3600)
    await trio.testing.wait_all_tasks_blocked()
    assert ticks(ref) == 1


async def test_many_sessions_share_one_task_and_each_is_told_once(mock_clock, nursery):
    clock = Clock()
    ticker = SessionTicker(clock, INTERVAL)
    await nursery.start(ticker.run)
    many = refs(1000)
    for n, ref in enumerate(many):
        ticker.set(ref, clock() + dt.timedelta(seconds=n % 60))
    assert len(nursery.child_tasks) == 1  # the ticker: no task per session
    mock_clock.jump(30.5)
    await trio.testing.wait_all_tasks_blocked()
    told = [ticks(ref) for ref in many]
    assert told == [1 if n % 60 < 30 else 0 for n in range(1000)]
    mock_clock.jump(31)
    await trio.testing.wait_all_tasks_blocked()
    assert [ticks(ref) for ref in many] == [1] * 1000
    assert (ticker.told, len(ticker)) == (1000, 0)


async def test_a_moved_or_removed_deadline_is_not_told(mock_clock, nursery):
    clock = Clock()
    ticker = SessionTicker(clock, INTERVAL)
    await nursery.start(ticker.run)
    moved, removed = refs(2)
    ticker.set(moved, clock() + dt.timedelta(seconds=10))
    ticker.set(removed, clock() + dt.timedelta(seconds=10))
    ticker.set(moved, clock() + dt.timedelta(seconds=100))  # e.g. the station came back
    ticker.remove(removed)  # e.g. the session stopped
    mock_clock.jump(50)
    await trio.testing.wait_all_tasks_blocked()
    assert (ticks(moved), ticks(removed)) == (0, 0)
    ticker.set(moved, clock() + dt.timedelta(seconds=5))  # earlier than the ticker's wait
    mock_clock.jump(6)
    await trio.testing.wait_all_tasks_blocked()
    assert (ticks(moved), ticks(removed)) == (1, 0)


async def test_a_full_mailbox_gets_its_tick_an_interval_later(mock_clock, nursery):
    clock = Clock()
    ticker = SessionTicker(clock, INTERVAL)
    await nursery.start(ticker.run)
    [ref] = refs(1, capacity=1)
    ref.tell_nowait("busy")
    ticker.set(ref, clock())
    mock_clock.jump(INTERVAL)
    await trio.testing.wait_all_tasks_blocked()
    assert ref in ticker  # dropped, kept for the next interval
    assert await ref._mailbox.get() == "busy"  # taken: room again
    mock_clock.jump(INTERVAL)
    await trio.testing.wait_all_tasks_blocked()
    assert (ticks(ref), ticker.told) == (1, 1)


# -- sessions resumed from the database ----------------------------------------------------------


async def test_sessions_end_at_their_duration_and_grace_on_time_through_one_ticker(
    database_url, mock_clock
):
    """Resumed while their stations are away: the 30 s ones end by their duration, the others
    by the disconnect grace (60 s), none early, each at most one tick interval late; the
    sessions add one trio task each (their mailbox's), not two."""
    policy = SessionPolicy(tz=SP, disconnect_grace_s=60)
    short = [discharging(f"CP{n}", policy, duration_s=30) for n in range(10)]
    long = [discharging(f"CQ{n}", policy) for n in range(10)]
    store(database_url, short + long)
    async with hang_guard(60), sessions_node(database_url, policy) as s:
        before = len(list(all_tasks()))
        ticker = await resumed(s, 20)
        assert len(list(all_tasks())) - before <= 20 + 1  # the sessions, the ticker
        mock_clock.jump(29.99)
        await trio.testing.wait_all_tasks_blocked()
        assert s.completed.statistics().current_buffer_used == 0
        mock_clock.jump(INTERVAL + 0.02)
        ends = [await s.completed.receive() for _ in short]
        assert {e.session_id for e in ends} == {st.session_id for st in short}
        for end in ends:
            assert end.end_reason == "duration_elapsed"
            late = (end.ended_at - (BASE + dt.timedelta(seconds=30))).total_seconds()
            assert 0 <= late <= INTERVAL + 0.02
        assert len(ticker) == 10
        mock_clock.jump(60 - 30 - INTERVAL)
        await trio.testing.wait_all_tasks_blocked()
        assert s.completed.statistics().current_buffer_used == 0
        mock_clock.jump(INTERVAL + 0.02)
        ends = [await s.completed.receive() for _ in long]
        assert {e.end_reason for e in ends} == {"station_disconnected"}
        assert len(ticker) == 0


async def test_a_stopped_session_leaves_the_ticker(database_url, mock_clock):
    policy = SessionPolicy(tz=SP, disconnect_grace_s=60)
    states = [discharging(f"CP{n}", policy) for n in range(3)]
    store(database_url, states)
    async with hang_guard(60), sessions_node(database_url, policy) as s:
        ticker = await resumed(s, 3)
        stopped = uuid.UUID(states[0].session_id)
        row = await s.root.ref(V2G_SESSIONS).ask(StopDischarge(stopped, "test"), timeout=30)
        assert row.state == "stopping"
        end = await s.completed.receive()
        assert (end.session_id, end.end_reason) == (states[0].session_id, "operator_stop")
        while len(ticker) > 2:
            await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(61)
        ends = [await s.completed.receive() for _ in range(2)]
        assert {e.session_id for e in ends} == {st.session_id for st in states[1:]}
        assert ticker.told == 2  # none for the stopped one
