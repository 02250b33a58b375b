"""The V2X owner's way of working: its mailbox never waits for a station or the database.

An ask is answered later (``defer_reply``) from a task of the actor's own nursery, so the next
message is taken meanwhile; a command goes out from such a task too. A failure in a task is
logged and the asker gets ``None`` (a route's default answer): it never crashes the owner.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from csms.runtime import Actor, ActorContext, Reply

__all__ = ["TaskActor", "Told"]

log = logging.getLogger("csms.v2x")


class Told:
    """The reply of a told message: nobody waits for it."""

    done = False
    abandoned = True

    def resolve(self, value: Any = None) -> None:
        self.done = True


class TaskActor(Actor):
    background_tasks = True

    _ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx

    def _defer(self, work: Callable[[Any, Reply], Awaitable[None]], message: Any) -> None:
        """Answer the ask in hand from a task of its own; the mailbox goes on meanwhile."""
        assert self._ctx is not None
        try:
            reply: Reply | Told = self._ctx.defer_reply()
        except RuntimeError:  # told, not asked (AllowV2X may be either): nobody waits
            reply = Told()
        self._ctx.nursery.start_soon(self._deferred, work, message, reply)

    async def _deferred(
        self, work: Callable[[Any, Reply], Awaitable[None]], message: Any, reply: Reply | Told
    ) -> None:
        try:
            await work(message, reply)  # type: ignore[arg-type]
        except Exception as exc:  # the station gets the handler's answer; the owner lives on
            log.exception(
                "V2X decision failed",
                extra={"kind": type(message).__name__, "error": repr(exc)},
            )
        finally:
            if not reply.done:
                reply.resolve(None)

    def _start(self, work: Callable[..., Awaitable[Any]], *args: Any) -> None:
        assert self._ctx is not None
        self._ctx.nursery.start_soon(self._guarded, work, *args)

    async def _guarded(self, work: Callable[..., Awaitable[Any]], *args: Any) -> None:
        try:
            await work(*args)
        except Exception as exc:
            log.exception("V2X command failed", extra={"error": repr(exc)})
