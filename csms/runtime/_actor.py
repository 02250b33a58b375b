"""Actors and the cell that runs their incarnations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import outcome
import trio

from ._exceptions import ActorCrashed, ActorStopped, Rejected
from ._mailbox import STOP, Mailbox
from ._ref import ActorRef, Ask, ReplySlot

log = logging.getLogger("csms.runtime")


class Reply:
    """The answer to an ``ask``, given later (see ``ActorContext.defer_reply``)."""

    __slots__ = ("_outstanding", "_slot")

    def __init__(self, slot: ReplySlot, outstanding: set[Reply]) -> None:
        self._slot = slot
        self._outstanding = outstanding
        outstanding.add(self)

    @property
    def done(self) -> bool:
        return self._slot.delivered

    @property
    def abandoned(self) -> bool:
        """The asker stopped waiting (timed out or cancelled): this reply would go nowhere."""
        return self._slot.abandoned

    def resolve(self, value: Any = None) -> None:
        self._outstanding.discard(self)
        self._slot.deliver(outcome.Value(value))

    def fail(self, error: BaseException) -> None:
        self._outstanding.discard(self)
        self._slot.deliver(outcome.Error(error))


class ActorContext:
    """What an incarnation knows about itself: its address and, for actors that declare
    ``background_tasks = True``, a nursery whose tasks live and die with the incarnation."""

    __slots__ = ("_cell", "_nursery", "ref")

    def __init__(self, cell: ActorCell, nursery: trio.Nursery | None) -> None:
        self.ref = cell.ref
        self._nursery = nursery
        self._cell = cell

    @property
    def nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError(
                f"{self.ref.kind}:{self.ref.id} has no nursery: set `background_tasks = True` "
                "on its Actor class to run background tasks"
            )
        return self._nursery

    @property
    def asker_gone(self) -> bool:
        """True while handling an ask whose asker has stopped waiting for the reply (its
        timeout passed, or its cancel scope was cancelled): what the reply was for is no longer
        wanted. False for told messages and once the reply is deferred (see ``Reply.abandoned``).
        """
        slot = self._cell._in_flight
        return slot is not None and slot.abandoned

    def stop(self) -> None:
        """Stop after the current message: a normal exit (a transient child stays down)."""
        self._cell.mailbox.request_stop(drain=False)

    def defer_reply(self) -> Reply:
        """Answer the ask being handled later, with the returned ``Reply`` (``receive``'s return
        value is then ignored). Lets an actor take the next message while this one completes,
        e.g. acknowledging a write at COMMIT. Replies still open when the incarnation ends are
        failed with ``ActorStopped`` (or ``ActorCrashed``), so no asker waits for ever."""
        return self._cell.defer()


class Actor:
    """Base class of actors. One instance per incarnation: a restart builds a fresh one.

    ``receive`` handles one message at a time in mailbox order; what it returns answers an ``ask``.
    Raising ``Rejected`` refuses the message (the asker gets it) and the actor carries on; any other
    exception is a crash for the supervisor to handle.

    An actor that runs tasks beside its mailbox (a socket reader, a flush timer) sets
    ``background_tasks = True`` and gets ``ctx.nursery``; a crash in one of them crashes the
    actor. The others go without, which keeps an idle actor as light as a bare trio task.
    """

    # No instance dict in the base: an actor held by the ten thousand (a station) can be slotted.
    __slots__ = ()

    background_tasks: ClassVar[bool] = False

    async def on_start(self, ctx: ActorContext) -> None:
        """Set up. Raising here is a startup failure, reported to whoever started the actor."""

    async def receive(self, message: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    def receive_nowait(self, message: Any) -> bool:
        """Optionally take a told message at once, in the sender's task, without waking the actor
        (one task switch less per message). Called only while the actor waits for its next
        message, so mailbox order holds; never for an ``ask``. Return False to have the message
        delivered to ``receive`` as usual. Must not block or raise. Overridden by actors whose
        common message is cheap bookkeeping (the persistence actor's fire-and-forget writes).
        """
        return False

    def receive_ask_nowait(self, message: Any, reply: Reply) -> bool:
        """Optionally take an ask at once, in the asker's task, without waking the actor; its
        answer goes later through ``reply``, as after ``ActorContext.defer_reply``. Called only
        while the actor waits for its next message, so mailbox order holds. Return False to
        have the ask delivered to ``receive`` as usual (``reply`` is then dropped unused). Must
        not block or raise. Overridden by actors whose common ask is cheap bookkeeping with a
        deferred answer (the persistence actor's writes, answered at COMMIT).
        """
        return False

    async def on_stop(self, reason: BaseException | None) -> None:
        """Final flush: shielded from cancellation and bounded by the child's shutdown timeout.
        ``reason`` is None after a graceful stop, else the crash or cancellation."""


def _unanswered(ref: ActorRef, reason: BaseException | None) -> BaseException:
    """What an asker gets when the incarnation ended before answering."""
    if reason is None or _is_cancellation(reason):
        return ActorStopped(f"{ref.kind}:{ref.id} stopped before answering")
    crashed = ActorCrashed(f"{ref.kind}:{ref.id} crashed: {reason!r}")
    crashed.__cause__ = reason
    return crashed


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split(trio.Cancelled)
        return rest is None
    return False


def unwrap(exc: BaseException) -> BaseException:
    """The lone exception inside single-member groups (nurseries wrap everything)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def fail_leftover(ref: ActorRef, items: list[Any]) -> None:
    """Answer asks that will never be handled, so no asker waits for a reply that cannot come."""
    for item in items:
        if type(item) is Ask:
            item.reply.deliver(
                outcome.Error(ActorStopped(f"{ref.kind}:{ref.id} stopped before handling the ask"))
            )


def _log_rejected(ref: ActorRef, exc: Rejected) -> None:
    log.warning("message rejected", extra={"actor": f"{ref.kind}:{ref.id}", "reason": str(exc)})


class _NoNursery:
    """``async with`` target for actors without background tasks."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_NURSERY = _NoNursery()


def _nursery_if(wanted: bool) -> contextlib.AbstractAsyncContextManager[trio.Nursery | None]:
    return trio.open_nursery() if wanted else _NO_NURSERY


class ActorCell:
    """Owns an actor's mailbox and ref for the life of its child spec, and runs its incarnations."""

    __slots__ = ("_deferred", "_in_flight", "factory", "mailbox", "ref", "shutdown_timeout")

    def __init__(
        self,
        kind: str,
        id: str,
        factory: Callable[[], Actor],
        *,
        mailbox_size: int,
        shutdown_timeout: float,
    ) -> None:
        self.mailbox = Mailbox(mailbox_size)
        self.ref = ActorRef(kind, id, self.mailbox)
        self.factory = factory
        self.shutdown_timeout = shutdown_timeout
        self._in_flight: ReplySlot | None = None
        self._deferred: set[Reply] | None = None  # made by the first defer_reply()

    def defer(self) -> Reply:
        slot = self._in_flight
        if slot is None:
            raise RuntimeError("defer_reply() is only possible while handling an ask")
        self._in_flight = None  # the message loop will not answer it
        if self._deferred is None:
            self._deferred = set()
        return Reply(slot, self._deferred)

    def _inline_taker(self, actor: Actor) -> Callable[[Any], bool] | None:
        """What the mailbox hands an item to while the actor waits for one (None: nothing)."""
        kind = type(actor)
        told = kind.receive_nowait is not Actor.receive_nowait
        asks = kind.receive_ask_nowait is not Actor.receive_ask_nowait
        if not (told or asks):
            return None
        take_told = actor.receive_nowait
        take_ask = actor.receive_ask_nowait

        def taker(item: Any) -> bool:
            if type(item) is not Ask:
                return told and take_told(item)
            if not asks:
                return False
            if self._deferred is None:
                self._deferred = set()
            reply = Reply(item.reply, self._deferred)
            if take_ask(item.message, reply):
                return True
            self._deferred.discard(reply)
            return False

        return taker

    def request_stop(self, *, final: bool) -> None:
        self.mailbox.request_stop(drain=final)

    def close(self) -> None:
        """The actor will not run again: refuse new messages and answer the queued asks."""
        fail_leftover(self.ref, self.mailbox.close())

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run one incarnation until it stops (returns) or crashes (raises)."""
        self.mailbox.reopen()
        self.ref.generation += 1
        actor = self.factory()
        reason: BaseException | None = None
        try:
            # The loop runs in this frame, not in a helper coroutine: an idle actor is parked
            # here, and every frame in its await chain is memory held by each of thousands.
            nursery: trio.Nursery | None
            async with _nursery_if(actor.background_tasks) as nursery:
                await actor.on_start(ActorContext(self, nursery))
                self.mailbox.taker = self._inline_taker(actor)
                task_status.started()
                get = self.mailbox.get
                receive = actor.receive
                while (item := await get()) is not STOP:
                    if type(item) is not Ask:
                        try:
                            await receive(item)
                        except Rejected as exc:  # nobody to answer; refusing is not a crash
                            _log_rejected(self.ref, exc)
                        continue
                    reply: ReplySlot = item.reply
                    self._in_flight = reply
                    try:
                        result = await receive(item.message)
                    except Rejected as exc:
                        reply.deliver(outcome.Error(exc))
                    else:
                        if self._in_flight is not None:  # None: the actor deferred its reply
                            reply.deliver(outcome.Value(result))
                    self._in_flight = None
                if nursery is not None:
                    nursery.cancel_scope.cancel()
        except BaseException as exc:
            reason = unwrap(exc)
            if self._in_flight is not None:
                self._in_flight.deliver(outcome.Error(_unanswered(self.ref, reason)))
            raise
        finally:
            self.mailbox.taker = None
            self._in_flight = None
            with trio.CancelScope(shield=True) as flush:
                flush.deadline = trio.current_time() + self.shutdown_timeout
                try:
                    await actor.on_stop(reason)
                except Exception:
                    log.exception(
                        "on_stop failed", extra={"actor": f"{self.ref.kind}:{self.ref.id}"}
                    )
            if flush.cancelled_caught:
                log.warning(
                    "on_stop cut short by the shutdown timeout",
                    extra={"actor": f"{self.ref.kind}:{self.ref.id}"},
                )
            for pending in list(self._deferred or ()):
                pending.fail(_unanswered(self.ref, reason))
