"""Actor addresses and the reply slot behind ``ask``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import outcome
import trio

from ._exceptions import AskTimeout, MailboxFull

if TYPE_CHECKING:
    from ._mailbox import Mailbox


class ReplySlot:
    """Where one reply lands. Delivering never blocks and the first delivery wins, so a late or
    abandoned reply costs the replier nothing. ``abandoned`` is set once the asker stopped
    waiting (its timeout passed or its cancel scope was cancelled): the replier may then skip
    work whose only purpose was the reply (``ActorContext.asker_gone``)."""

    __slots__ = ("_outcome", "_waiter", "abandoned")

    def __init__(self) -> None:
        self._outcome: outcome.Outcome[Any] | None = None
        self._waiter: trio.lowlevel.Task | None = None
        self.abandoned = False

    @property
    def delivered(self) -> bool:
        return self._outcome is not None

    def deliver(self, result: outcome.Outcome[Any]) -> None:
        if self._outcome is not None:
            return
        self._outcome = result
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter, result)

    async def wait(self) -> Any:
        if self._outcome is not None:
            await trio.lowlevel.checkpoint()
            return self._outcome.unwrap()
        self._waiter = trio.lowlevel.current_task()

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._waiter = None
            self.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)


class Ask:
    """The envelope of an ``ask``: the message and where its reply goes."""

    __slots__ = ("message", "reply")

    def __init__(self, message: object, reply: ReplySlot) -> None:
        self.message = message
        self.reply = reply


class ActorRef:
    """The stable address of an actor.

    The supervisor owns the mailbox, so a ref stays valid across restarts; ``generation`` says which
    incarnation currently runs behind it (0 before the first start).
    """

    __slots__ = ("_mailbox", "generation", "id", "kind")

    def __init__(self, kind: str, id: str, mailbox: Mailbox) -> None:
        self.kind = kind
        self.id = id
        self.generation = 0
        self._mailbox = mailbox

    def __repr__(self) -> str:
        return f"<ActorRef {self.kind}:{self.id} gen={self.generation}>"

    @property
    def mailbox_depth(self) -> int:
        return self._mailbox.depth

    @property
    def mailbox_high_water(self) -> int:
        return self._mailbox.high_water

    @property
    def dropped(self) -> int:
        return self._mailbox.dropped

    @property
    def full(self) -> bool:
        """True while ``tell_nowait`` would raise ``MailboxFull``."""
        return self._mailbox.full

    @property
    def idle(self) -> bool:
        """True while the actor waits for its next message with nothing queued: a message
        told or asked now is taken at once, not after earlier ones."""
        return self._mailbox.waiting

    @property
    def alive(self) -> bool:
        """False once the actor has stopped for good (its mailbox refuses messages)."""
        return not self._mailbox.closed

    async def tell(self, message: object) -> None:
        """Enqueue, waiting while the mailbox is full (backpressure). Raises ``ActorStopped``."""
        await self._mailbox.put(message)

    def tell_nowait(self, message: object) -> None:
        """Enqueue or raise ``MailboxFull`` at once. Raises ``ActorStopped``."""
        self._mailbox.put_nowait(message)

    def tell_or_drop(self, message: object) -> bool:
        """Enqueue, or drop the message and count it (``dropped``) when the mailbox is full."""
        return self._mailbox.put_or_drop(message)

    async def ask(self, message: object, *, timeout: float | None) -> Any:
        """Send and wait for the reply; ``timeout`` covers both the enqueue and the reply.
        ``None`` leaves the bound to a cancel scope of the caller's (one scope less per ask
        where the caller has one anyway).

        Raises ``AskTimeout``, ``Rejected`` (the actor refused it), ``ActorCrashed`` (it crashed
        handling it) or ``ActorStopped``.
        """
        if timeout is None:
            return await self._ask(message)
        with trio.move_on_after(timeout):
            return await self._ask(message)
        raise AskTimeout(f"{self.kind}:{self.id} did not answer within {timeout} s")

    async def _ask(self, message: object) -> Any:
        reply = ReplySlot()
        envelope = Ask(message, reply)
        mailbox = self._mailbox
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            # Room in the mailbox: no schedule point here, the wait for the reply is one.
            mailbox.put_nowait(envelope)
        except MailboxFull:
            await mailbox.put(envelope)
        return await reply.wait()
