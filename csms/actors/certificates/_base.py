"""The certificates owner's way of working: its mailbox never waits for HTTP, a station or the
database. Each ask is answered from a task of its own (a failure there answers the route's
default, and the owner lives on); every certificate failure is logged and published as
``security.certificate.rejected`` with its security event type."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from csms.actors.events import EventBus
from csms.actors.station import StationMessage
from csms.domain.events import CertificateRejected
from csms.protocol import Direction, Version, structure_payload
from csms.runtime import Actor, ActorContext, Reply

__all__ = ["OwnerBase"]

log = logging.getLogger("csms.certificates")


class OwnerBase(Actor):
    background_tasks = True
    events: EventBus
    _ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx

    # -- plumbing -----------------------------------------------------------------------------

    def _defer(self, work: Callable[[Any], Awaitable[Any]], message: Any) -> None:
        assert self._ctx is not None
        reply = self._ctx.defer_reply()
        self._ctx.nursery.start_soon(self._answer, work, message, reply)

    async def _answer(
        self, work: Callable[[Any], Awaitable[Any]], message: Any, reply: Reply
    ) -> None:
        try:
            reply.resolve(await work(message))
        except Exception as exc:  # the station gets the route's default; the owner lives on
            log.exception("certificate decision failed", extra={"error": repr(exc)})
            if not reply.done:
                reply.resolve(None)

    def _start(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        assert self._ctx is not None
        self._ctx.nursery.start_soon(self._guarded, work, *args)

    async def _guarded(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await work(*args)
        except Exception as exc:
            log.exception("certificate task failed", extra={"error": repr(exc)})

    def _rejected(
        self, station_id: str, operation: str, status: str, reason: str, event: str
    ) -> None:
        log.warning(
            "certificate failure",
            extra={
                "station": station_id,
                "operation": operation,
                "status": status,
                "reason": reason,
                "security_event": event,
            },
        )
        self.events.publish(
            CertificateRejected(
                station_id=station_id,
                operation=operation,
                status=status,
                reason=reason,
                security_event=event,
            )
        )

    @staticmethod
    def _response(message: StationMessage, payload: dict[str, Any]) -> Any:
        return structure_payload(
            Version(message.version), message.action, Direction.RESPONSE, payload
        )
