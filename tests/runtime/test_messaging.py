"""tell, ask and mailboxes: backpressure, fail-fast, drops, deadlines, late replies, crashes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from csms.runtime import (
    Actor,
    ActorContext,
    ActorCrashed,
    ActorRef,
    ActorStopped,
    AskTimeout,
    ChildSpec,
    MailboxFull,
    Rejected,
    Reply,
    RestartType,
    Strategy,
    Supervisor,
)

from .helpers import Journal, probe


def one(journal: Journal, *, mailbox_size: int = 10, **kwargs: object) -> Supervisor:
    spec = ChildSpec.actor("a", probe("a", journal), mailbox_size=mailbox_size, **kwargs)
    return Supervisor(Strategy.ONE_FOR_ONE, [spec], name="root")


async def test_ask_returns_the_reply_and_tell_is_processed_in_order(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        for n in range(5):
            await ref.tell(n)
        assert await ref.ask("last", timeout=1) == "last"
        assert [e[2] for e in journal.of("receive")] == [0, 1, 2, 3, 4, "last"]
        await sup.stop()


async def test_rejected_is_a_reply_not_a_crash(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        with pytest.raises(Rejected, match="refuses"):
            await ref.ask("reject", timeout=1)
        assert await ref.ask("still here", timeout=1) == "still here"
        assert ref.generation == 1
        assert sup.crashes == 0
        await sup.stop()


async def test_tell_blocks_while_full_then_proceeds(clock, journal):
    sup = one(journal, mailbox_size=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        gate = trio.Event()
        await ref.tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()  # the actor is now inside the handler
        await ref.tell(1)
        await ref.tell(2)
        sent = trio.Event()

        async def third() -> None:
            await ref.tell(3)
            sent.set()

        nursery.start_soon(third)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()  # backpressure: the sender waits for space
        assert ref.mailbox_depth == 3
        gate.set()
        await sent.wait()
        assert await ref.ask("end", timeout=1) == "end"
        assert [e[2] for e in journal.of("receive")][1:] == [1, 2, 3, "end"]
        await sup.stop()


async def test_tell_nowait_fails_fast_and_tell_or_drop_counts(clock, journal):
    sup = one(journal, mailbox_size=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        gate = trio.Event()
        ref.tell_nowait(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        ref.tell_nowait("queued")
        with pytest.raises(MailboxFull):
            ref.tell_nowait("no room")
        assert ref.tell_or_drop("dropped") is False
        assert ref.tell_or_drop("dropped again") is False
        assert ref.dropped == 2
        gate.set()
        assert await ref.ask("end", timeout=1) == "end"
        assert "dropped" not in [e[2] for e in journal.of("receive")]
        await sup.stop()


async def test_ask_deadline_covers_a_full_mailbox(clock, journal):
    sup = one(journal, mailbox_size=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        gate = trio.Event()
        ref.tell_nowait(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        ref.tell_nowait("filler")
        start = trio.current_time()
        with pytest.raises(AskTimeout):
            await ref.ask("never enqueued", timeout=2.5)
        assert trio.current_time() - start == pytest.approx(2.5)
        assert ref.mailbox_depth == 1  # the abandoned ask left no trace in the mailbox
        gate.set()
        assert await ref.ask("after", timeout=1) == "after"
        assert "never enqueued" not in [e[2] for e in journal.of("receive")]
        await sup.stop()


async def test_late_reply_never_blocks_or_crashes_the_replier(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        with pytest.raises(AskTimeout):
            await ref.ask(("sleep", 10.0), timeout=1)
        # The actor finishes the slow message, replies into the void and carries on.
        assert await ref.ask("next", timeout=30) == "next"
        assert ref.generation == 1
        assert sup.crashes == 0
        await sup.stop()


async def test_ask_without_timeout_is_bounded_by_the_callers_scope(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        start = trio.current_time()
        with trio.move_on_after(3) as scope:
            await ref.ask(("sleep", 10.0), timeout=None)
        assert scope.cancelled_caught
        assert trio.current_time() - start == pytest.approx(3)
        # The actor finishes the slow message, replies into the void and carries on.
        assert await ref.ask("next", timeout=None) == "next"
        assert sup.crashes == 0
        await sup.stop()


async def test_crash_mid_ask_gives_actor_crashed_and_the_ref_survives_the_restart(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        with pytest.raises(ActorCrashed) as info:
            await ref.ask("crash", timeout=1)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert await ref.ask("back", timeout=10) == "back"
        assert ref.generation == 2
        assert journal.of("stop")[0][2] == "RuntimeError"
        await sup.stop()


async def test_messages_queued_during_a_restart_are_kept(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        await ref.tell("crash")
        await ref.tell("kept-1")
        await ref.tell("kept-2")
        assert await ref.ask("kept-3", timeout=10) == "kept-3"
        assert [e[2] for e in journal.of("receive")] == ["crash", "kept-1", "kept-2", "kept-3"]
        await sup.stop()


async def test_graceful_stop_drains_what_was_queued(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        gate = trio.Event()
        await ref.tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        for n in range(3):
            await ref.tell(n)
        nursery.start_soon(sup.stop)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert [e[2] for e in journal.of("receive")][1:] == [0, 1, 2]
    assert not ref.alive
    with pytest.raises(ActorStopped):
        await ref.tell("too late")


async def test_asks_queued_for_a_temporary_actor_that_dies_are_answered(clock, journal):
    sup = one(journal, restart=RestartType.TEMPORARY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        await ref.tell("crash")
        results: list[BaseException] = []

        async def asker() -> None:
            try:
                await ref.ask("pending", timeout=10)
            except (ActorStopped, ActorCrashed) as exc:
                results.append(exc)

        async with trio.open_nursery() as askers:
            for _ in range(3):
                askers.start_soon(asker)
        assert [type(r) for r in results] == [ActorStopped] * 3
        assert not ref.alive
        await sup.stop()


async def test_rejected_tell_is_logged_not_a_crash(clock, journal, caplog):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        await ref.tell("reject")
        assert await ref.ask("fine", timeout=1) == "fine"
        assert ref.generation == 1
        assert any(r.message == "message rejected" for r in caplog.records)
        await sup.stop()


class Committer(Actor):
    """Defers each ask until told to ``commit``; ``crash`` crashes it with replies open."""

    def __init__(self) -> None:
        self.open: list[Reply] = []
        self.ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self.ctx = ctx

    async def receive(self, message: object) -> object:
        assert self.ctx is not None
        if message == "commit":
            for n, reply in enumerate(self.open):
                reply.resolve(f"committed {n}")
            self.open.clear()
            return None
        if message == "crash":
            raise RuntimeError("lost the database")
        self.open.append(self.ctx.defer_reply())
        return "ignored: the reply was deferred"


def committer(restart: RestartType = RestartType.PERMANENT) -> Supervisor:
    spec = ChildSpec.actor("c", Committer, restart=restart)
    return Supervisor(Strategy.ONE_FOR_ONE, [spec], name="root")


async def test_deferred_replies_are_given_later_while_other_messages_flow(clock):
    sup = committer()
    answers: list[object] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("c")

        async def ask(n: int) -> None:
            answers.append(await ref.ask(f"write {n}", timeout=10))

        async with trio.open_nursery() as askers:
            for n in range(3):
                askers.start_soon(ask, n)
            await trio.testing.wait_all_tasks_blocked()
            assert answers == []  # all three were taken, none answered yet
            await ref.tell("commit")
        assert sorted(answers) == ["committed 0", "committed 1", "committed 2"]
        await sup.stop()


async def test_deferred_replies_fail_when_the_actor_crashes_or_stops(clock):
    sup = committer(restart=RestartType.TEMPORARY)
    errors: list[type[BaseException]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("c")

        async def ask() -> None:
            try:
                await ref.ask("write", timeout=10)
            except (ActorCrashed, ActorStopped) as exc:
                errors.append(type(exc))

        async with trio.open_nursery() as askers:
            askers.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            await ref.tell("crash")
        assert errors == [ActorCrashed]
        await sup.stop()


async def test_defer_reply_outside_an_ask_is_a_programming_error(clock):
    sup = committer(restart=RestartType.TEMPORARY)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("c")
        await ref.tell("a tell cannot be deferred")
        await trio.testing.wait_all_tasks_blocked()
        assert not ref.alive  # the RuntimeError crashed it
        await sup.stop()


class Tally(Actor):
    """Takes ints inline (``receive_nowait``); anything else, and asks, through ``receive``."""

    def __init__(self, log: list[tuple[str, object, object]]) -> None:
        self.log = log

    async def receive(self, message: object) -> object:
        self.log.append(("receive", message, trio.lowlevel.current_task()))
        if message == "slow":
            await trio.sleep(1)  # virtual time: the tests run on a MockClock
        return message

    def receive_nowait(self, message: object) -> bool:
        if not isinstance(message, int):
            return False
        self.log.append(("inline", message, trio.lowlevel.current_task()))
        return True


@contextlib.asynccontextmanager
async def running_tally() -> AsyncIterator[tuple[ActorRef, list[tuple[str, object, object]]]]:
    log: list[tuple[str, object, object]] = []
    sup = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("t", lambda: Tally(log))])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        yield sup.ref("t"), log
        await sup.stop()


async def test_an_idle_actor_takes_told_messages_inline_in_the_senders_task(clock):
    async with running_tally() as (ref, log):
        await trio.testing.wait_all_tasks_blocked()
        me = trio.lowlevel.current_task()
        ref.tell_nowait(1)
        await ref.tell(2)
        assert log == [("inline", 1, me), ("inline", 2, me)]  # taken before tell returned
        assert await ref.ask(3, timeout=1) == 3  # an ask is never taken inline
        ref.tell_nowait("text")  # refused inline: delivered as usual
        await trio.testing.wait_all_tasks_blocked()
        assert [(kind, m) for kind, m, _ in log[2:]] == [("receive", 3), ("receive", "text")]
        assert log[2][2] is not me


async def test_a_busy_actor_gets_told_messages_in_mailbox_order(clock):
    """While the actor handles a message nothing is taken inline, so order holds."""
    async with running_tally() as (ref, log):
        ref.tell_nowait("slow")
        await trio.testing.wait_all_tasks_blocked()  # it is inside receive("slow")
        ref.tell_nowait(1)
        ref.tell_nowait("after")
        await trio.sleep(2)  # MockClock: "slow" and what queued behind it are done
        assert [(kind, m) for kind, m, _ in log] == [
            ("receive", "slow"),
            ("receive", 1),
            ("receive", "after"),
        ]
        ref.tell_nowait(2)  # idle again: inline
        assert log[-1][:2] == ("inline", 2)


class Ledger(Actor):
    """Takes asks of ints inline (``receive_ask_nowait``), answering them later through the
    deferred reply; anything else through ``receive``."""

    def __init__(self, log: list[tuple[str, object, object]], held: list[tuple[int, Reply]]):
        self.log = log
        self.held = held

    async def receive(self, message: object) -> object:
        self.log.append(("receive", message, trio.lowlevel.current_task()))
        if message == "slow":
            await trio.sleep(1)  # virtual time: the tests run on a MockClock
        return message

    def receive_ask_nowait(self, message: object, reply: Reply) -> bool:
        if not isinstance(message, int):
            return False
        self.log.append(("inline", message, trio.lowlevel.current_task()))
        self.held.append((message, reply))
        return True


async def test_an_idle_actor_takes_asks_inline_and_answers_them_later(clock):
    """An ask taken inline is answered through its deferred reply; one refused inline goes to
    ``receive``; while the actor is busy nothing is taken inline (mailbox order holds); a reply
    still open when the actor stops is failed, never left hanging."""
    log: list[tuple[str, object, object]] = []
    held: list[tuple[int, Reply]] = []
    sup = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("l", lambda: Ledger(log, held))])
    answers: list[object] = []

    async def ask(message: object) -> None:
        try:
            answers.append(await ref.ask(message, timeout=None))
        except ActorStopped as exc:
            answers.append(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("l")
        await trio.testing.wait_all_tasks_blocked()
        async with trio.open_nursery() as askers:
            askers.start_soon(ask, 1)
            await trio.testing.wait_all_tasks_blocked()
            assert [(kind, m) for kind, m, _ in log] == [("inline", 1)]
            assert answers == []  # taken, not answered yet
            held.pop()[1].resolve("one")
        assert answers == ["one"]
        assert await ref.ask("text", timeout=1) == "text"  # refused inline: receive
        async with trio.open_nursery() as askers:
            askers.start_soon(ask, "slow")
            await trio.testing.wait_all_tasks_blocked()  # it is inside receive("slow")
            askers.start_soon(ask, 2)
        # both asks were answered when the nursery closed: "slow" first, then 2
        assert [(kind, m) for kind, m, _ in log[1:]] == [
            ("receive", "text"),
            ("receive", "slow"),
            ("receive", 2),  # queued behind "slow": delivered to receive, in order
        ]
        askers_done = trio.Event()

        async def last() -> None:
            await ask(3)
            askers_done.set()

        nursery.start_soon(last)
        await trio.testing.wait_all_tasks_blocked()
        assert log[-1][:2] == ("inline", 3)
        await sup.stop()
        await askers_done.wait()
    assert answers[:3] == ["one", "slow", 2]
    assert isinstance(answers[3], ActorStopped)


class Careful(Actor):
    """Waits for ``gate`` before each message, then notes whether its asker is still there."""

    def __init__(self, gate: trio.Event, seen: list[tuple[object, bool]]) -> None:
        self.gate = gate
        self.seen = seen
        self.ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self.ctx = ctx

    async def receive(self, message: object) -> object:
        await self.gate.wait()
        assert self.ctx is not None
        self.seen.append((message, self.ctx.asker_gone))
        return message


async def test_an_actor_sees_whether_its_asker_is_still_waiting(clock):
    """``asker_gone``: the asker timed out or was cancelled before the actor took the ask; a
    told message has no asker to lose."""
    gate = trio.Event()
    seen: list[tuple[object, bool]] = []
    sup = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("c", lambda: Careful(gate, seen))])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("c")
        ref.tell_nowait("told")  # holds the actor at the gate; the asks below queue behind it
        with pytest.raises(AskTimeout):
            await ref.ask("timed out", timeout=1)
        with trio.CancelScope() as scope:

            async def go_away() -> None:
                scope.cancel()  # the caller went away (say, its HTTP client disconnected)

            nursery.start_soon(go_away)
            await ref.ask("cancelled", timeout=None)
        answers: list[object] = []

        async def patient() -> None:
            answers.append(await ref.ask("waited", timeout=None))

        nursery.start_soon(patient)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [
            ("told", False),
            ("timed out", True),
            ("cancelled", True),
            ("waited", False),
        ]
        assert answers == ["waited"]
        await sup.stop()


async def test_idle_says_whether_a_message_sent_now_is_taken_at_once(clock, journal):
    sup = one(journal)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("a")
        await trio.testing.wait_all_tasks_blocked()
        assert ref.idle  # waiting for its next message
        gate = trio.Event()
        await ref.tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        assert not ref.idle  # inside the handler: a message now would wait behind it
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ref.idle
        await sup.stop()
