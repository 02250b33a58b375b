"""The tasks a discharge session runs beside its mailbox (its commands, its end), without a
nursery of its own: a nursery costs about 1.3 KiB a session, and the node runs thousands. They
run in the sessions' shared nursery and are cancelled when the session's incarnation stops, as
its own nursery's were; one that fails crashes the session (told ``Crashed``), not the
sessions' actor."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from csms.runtime import ActorContext, ActorStopped, MailboxFull

__all__ = ["Crashed", "SessionTasks"]

log = logging.getLogger("csms.v2g")


@attrs.frozen
class Crashed:
    """A task of the session failed: raised by the session's ``receive``, so the session
    crashes and its supervisor restarts it from its row."""

    error: Exception


class SessionTasks:
    """Mixin of ``DischargeSession``: ``_spawn`` and the cancelling of what it spawned."""

    __slots__ = ("_stopped", "_tasks")

    _ctx: ActorContext | None
    session_id: uuid.UUID
    _tasks: set[trio.CancelScope] | None  # the running tasks' scopes (None: none)
    _stopped: bool

    def _nursery(self) -> trio.Nursery:
        raise NotImplementedError

    def _spawn(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``fn`` beside the mailbox until it returns or this incarnation stops."""
        self._nursery().start_soon(self._task, fn, args)

    async def _task(self, fn: Callable[..., Awaitable[None]], args: tuple[Any, ...]) -> None:
        if self._stopped:
            return
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()
        scope = trio.CancelScope()
        tasks.add(scope)
        try:
            with scope:
                await fn(*args)
        except Exception as exc:
            assert self._ctx is not None
            try:
                self._ctx.ref.tell_nowait(Crashed(exc))
            except (ActorStopped, MailboxFull):
                log.exception(
                    "discharge session task failed", extra={"session": str(self.session_id)}
                )
        finally:
            tasks.discard(scope)
            if not tasks and self._tasks is tasks:
                self._tasks = None

    def _cancel_tasks(self) -> None:
        """The incarnation stops: its tasks with it (and none starts any more)."""
        self._stopped = True
        for scope in list(self._tasks or ()):
            scope.cancel()
