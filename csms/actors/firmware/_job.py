"""``FirmwareJob``: one firmware update, a thin shell over ``csms.services.firmware_job``.

It turns what reaches it (the station's FirmwareStatusNotification with its requestId, its
BootNotification, its own ticks, a replacement, an operator's cancel) into the policy's inputs
and carries out the effects: the row and its status history, the ``firmware.update.*`` events.
It stops once the job is finished; a node restart resumes it from its row.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import attrs

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.actors.station import StationMessage
from csms.runtime import Actor, ActorContext
from csms.services import firmware_job as policy
from csms.storage import Connection
from csms.storage import firmware as repo
from csms.storage.firmware import FirmwareJobRow

from ._messages import CancelJob, FirmwareOptions, Replaced, Tick
from ._record import columns_of, event_of, job_of

__all__ = ["FirmwareJobActor", "JobDeps"]

log = logging.getLogger("csms.firmware")


@attrs.define
class JobDeps:
    database: Database
    events: EventBus
    options: FirmwareOptions


class FirmwareJobActor(Actor):
    # no task of its own: its ticks come from ``firmware`` (one loop for every job), which
    # keeps an idle job near the size of its mailbox and state

    def __init__(self, deps: JobDeps, job_id: uuid.UUID) -> None:
        self.deps = deps
        self.job_id = job_id
        self.row: FirmwareJobRow | None = None
        self.job: policy.FirmwareJob | None = None
        self._ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        row = await self.deps.database.run(repo.get_job_by_id, self.job_id)
        if row is not None and row.reason == "Replaced" and row.state != "active":
            # a newer job replaced this one before it first ran (its Replaced came to no
            # one): the end is told here
            self.deps.events.publish(event_of(policy.Failed("Replaced", None), row, row.created_at))
        if row is None or row.state != "active":
            ctx.stop()
            return
        self.row, self.job = row, job_of(row)

    async def receive(self, message: Any) -> Any:
        if self.job is None:
            return None
        now = self.deps.options.clock()
        kind = type(message)
        if kind is StationMessage:
            event = self._input(message, now)
            if event is not None:
                await self._step(event)
        elif kind is Tick:
            await self._step(policy.Tick(now))
        elif kind is Replaced:
            await self._step(policy.Replaced(now))
        elif kind is CancelJob:
            log.info(
                "firmware job canceled", extra={"job": str(self.job_id), "by": message.requested_by}
            )
            await self._step(policy.Canceled(now))
            return self.row
        return None

    def _input(self, message: StationMessage, now: Any) -> policy.Input | None:
        assert self.row is not None
        raw = message.raw
        if message.action == "FirmwareStatusNotification":
            if raw.get("requestId") != self.row.request_id:
                return None  # another update's (or none): not this job's news
            return policy.Reported(str(raw.get("status")), now)
        if message.action == "BootNotification":
            station = raw.get("chargingStation") or {}
            return policy.Booted(station.get("firmwareVersion"), now)
        return None

    async def _step(self, event: policy.Input) -> None:
        before, row = self.job, self.row
        assert before is not None
        assert row is not None
        self.job, effects = policy.step(before, event, timeout=self.deps.options.timeout)
        if self.job != before:
            status = event.status if isinstance(event, policy.Reported) else None
            self.row = row = await self.deps.database.run(
                _save, self.job_id, columns_of(self.job), status
            )
        for effect in effects:
            self.deps.events.publish(event_of(effect, row, row.created_at))
        if self.job.finished:
            log.info(
                "firmware job ended",
                extra={"job": str(self.job_id), "phase": self.job.phase, "reason": self.job.reason},
            )
            assert self._ctx is not None
            self._ctx.stop()


def _save(
    conn: Connection, job_id: uuid.UUID, columns: dict[str, Any], reported: str | None
) -> FirmwareJobRow:
    """The row and, for a station's report, its entry in the history: one transaction."""
    row = repo.save_job(conn, job_id, **columns)
    if reported is not None:
        repo.add_status(conn, job_id, reported, columns["last_activity_at"])
    return row
