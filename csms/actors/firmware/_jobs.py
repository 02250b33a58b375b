"""``firmware``: the node's firmware jobs, one ``FirmwareJobActor`` each (transient) under a
dynamic supervisor this actor runs.

It starts jobs (an operator's ``StartUpdate``: UpdateFirmware sent with a fresh requestId, the
station's answer stepped through the policy, the job stored with it), resumes the active ones
from ``firmware_updates`` when the node starts, and hands each job the FirmwareStatusNotification
and BootNotification of its station (notify routes). AcceptedCanceled (or any acceptance while
a job of the station runs) ends the older job as ``Replaced`` (L01.FR.24 / L02.FR.15).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from csms.actors.node import NodeParts
from csms.actors.station import StationMessage
from csms.commands import CommandError
from csms.runtime import (
    Actor,
    ActorContext,
    ActorError,
    ActorRef,
    ActorStopped,
    ChildSpec,
    DynamicSupervisor,
    Rejected,
    Reply,
    RestartIntensity,
    RestartType,
)
from csms.services import firmware_job as policy
from csms.storage import Connection
from csms.storage import firmware as repo
from csms.storage import firmware_campaigns as campaigns_repo
from csms.storage.firmware import FirmwareJobRow
from csms.storage.firmware_campaigns import CampaignRow

from ._campaign import CampaignDeps, FirmwareCampaignActor
from ._job import FirmwareJobActor, JobDeps
from ._messages import (
    CampaignCommand,
    CancelJob,
    Replaced,
    RunCampaign,
    StartUpdate,
    Tick,
    UpdateRefused,
)
from ._record import columns_of, event_of, started_event

__all__ = ["FirmwareJobs"]

log = logging.getLogger("csms.firmware")


class FirmwareJobs(Actor):
    background_tasks = True

    def __init__(self, parts: NodeParts, deps: JobDeps) -> None:
        self.parts = parts
        self.deps = deps
        self.jobs = DynamicSupervisor(
            name="firmware_jobs", intensity=RestartIntensity(max_restarts=50, within=10.0)
        )
        #: one actor per campaign (csms/actors/firmware/_campaign.py)
        self.campaigns = DynamicSupervisor(
            name="firmware_campaigns", intensity=RestartIntensity(max_restarts=20, within=10.0)
        )
        #: running job actors by station, then by job id
        self.by_station: dict[str, dict[uuid.UUID, ActorRef]] = {}
        #: one start at a time per station: an acceptance replaces the job the one before stored
        self._starting: dict[str, trio.Lock] = {}
        #: what a station sent while its UpdateFirmware was out: a station may report
        #: Downloading before its acceptance has reached this actor and the job exists
        self._early: dict[str, list[StationMessage]] = {}
        self._ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        await ctx.nursery.start(self.jobs.run)
        rows = await self.parts.database.run(repo.active_jobs)
        for row in rows:
            self._start_job(row)
        if rows:
            log.info("firmware jobs resumed", extra={"jobs": len(rows)})
        await ctx.nursery.start(self.campaigns.run)
        ctx.nursery.start_soon(self._tick_jobs)
        for campaign in await self.parts.database.run(campaigns_repo.resumable_campaigns):
            self._run_campaign(campaign.id)

    async def on_stop(self, reason: BaseException | None) -> None:
        # the jobs and campaigns stop with the node but do not end: the next node resumes them
        await self.campaigns.stop()
        await self.jobs.stop()

    def receive_nowait(self, message: Any) -> bool:
        if type(message) is StationMessage:
            self._deliver(message.station_id, message)
            return True
        return False

    async def receive(self, message: Any) -> Any:
        if type(message) is StationMessage:
            self._deliver(message.station_id, message)
        elif type(message) in (StartUpdate, CancelJob, CampaignCommand):
            assert self._ctx is not None
            work: Callable[[Any], Awaitable[object]] = self._campaign_command
            if type(message) is StartUpdate:
                work = self._start
            elif type(message) is CancelJob:
                work = self._cancel
            self._ctx.nursery.start_soon(self._answer, work, message, self._ctx.defer_reply())
        elif type(message) is RunCampaign:
            self._run_campaign(message.campaign_id)
        else:
            raise TypeError(f"firmware does not handle {type(message).__name__}")
        return None

    async def _answer(
        self, work: Callable[[Any], Awaitable[object]], message: Any, reply: Reply
    ) -> None:
        try:
            row = await work(message)
        except Rejected as exc:
            log.info("firmware request refused", extra={"reason": str(exc)})
            reply.fail(exc)
        except Exception as exc:  # the asker gets it; this actor carries on
            log.exception("firmware update start or cancel failed", extra={"error": repr(exc)})
            reply.fail(exc)
        else:
            reply.resolve(row)

    async def _start(self, start: StartUpdate) -> FirmwareJobRow:
        lock = self._starting.setdefault(start.station_id, trio.Lock())
        async with lock:
            self._early[start.station_id] = []
            try:
                row = await self._start_one(start)
            finally:
                early = self._early.pop(start.station_id, [])
            for message in early:  # the job takes those of its requestId, in order
                self._tell(start.station_id, row.id, message)
            return row

    async def _start_one(self, start: StartUpdate) -> FirmwareJobRow:
        gateway, database = self.parts.gateway, self.parts.database
        if not gateway.is_connected(start.station_id):
            raise UpdateRefused(
                "station_not_connected", f"station {start.station_id!r} is not connected"
            )
        request_id = await database.run(repo.next_request_id, start.station_id)
        sent_at = self.deps.options.clock()
        try:
            result = await gateway.send(
                start.station_id,
                "UpdateFirmware",
                start.payload(request_id),
                requested_by=start.requested_by,
                deadline=trio.current_time() + self.deps.options.command_timeout,
            )
        except CommandError as exc:
            raise UpdateRefused(exc.code, f"UpdateFirmware not answered: {exc}") from None
        answer = str(result.response.get("status"))
        job = policy.new_job(
            sent_at=sent_at, retrieve_at=start.retrieve_at, install_at=start.install_at
        )
        job, effects = policy.step(
            job,
            policy.Answered(answer, self.deps.options.clock()),
            timeout=self.deps.options.timeout,
        )
        row, replaced = await database.run(
            _store_started, start, request_id, result.command_id, columns_of(job)
        )
        log.info(
            "firmware update answered",
            extra={"job": str(row.id), "station": row.station_id, "status": answer},
        )
        if job.finished:
            for effect in effects:
                self.deps.events.publish(event_of(effect, row, row.created_at))
            return row
        for old in replaced:
            self._tell(start.station_id, old, Replaced())
        self.deps.events.publish(started_event(row, str(replaced[0]) if replaced else None))
        self._start_job(row)
        return row

    async def _cancel(self, cancel: CancelJob) -> FirmwareJobRow | None:
        row = await self.parts.database.run(repo.get_job_by_id, cancel.job_id)
        if row is None:
            return None
        ref = self.by_station.get(row.station_id, {}).get(cancel.job_id)
        if ref is not None and ref.alive:
            try:
                answered: FirmwareJobRow = await ref.ask(cancel, timeout=10)
                return answered
            except ActorError:
                pass  # it ended meanwhile: its row says how
        return await self.parts.database.run(repo.get_job_by_id, cancel.job_id)

    async def _tick_jobs(self) -> None:
        """Every job hears a ``Tick`` each ``tick_interval`` (its timeout is checked then); one
        loop here instead of a task per job."""
        tick = Tick()
        while True:
            await trio.sleep(self.deps.options.tick_interval)
            for station_id in list(self.by_station):
                self._tell_all(station_id, tick)

    def _run_campaign(self, campaign_id: uuid.UUID) -> ActorRef:
        name = f"campaign-{campaign_id}"
        ref = self.campaigns.registry.lookup(name)
        if ref is not None:
            return ref
        assert self._ctx is not None
        deps = CampaignDeps(
            self.parts.database, self.parts.events, self.deps.options, self._ctx.ref
        )
        spec = ChildSpec.actor(
            name,
            lambda: FirmwareCampaignActor(deps, campaign_id),
            kind="firmware_campaign",
            restart=RestartType.TRANSIENT,
            mailbox_size=1024,
            shutdown_timeout=5,
        )
        return self.campaigns.start_child_nowait(spec, name=name)

    async def _campaign_command(self, command: CampaignCommand) -> CampaignRow | None:
        """Handed to the campaign's actor, started for it when it had stopped (paused or
        halted with nothing running); None when there is no such campaign."""
        row = await self.parts.database.run(campaigns_repo.get_campaign, command.campaign_id)
        if row is None:
            return None
        if row.state in ("completed", "canceled"):
            raise Rejected(f"a {row.state} campaign cannot be changed")
        for _ in range(2):  # the actor may stop (settled) just as the command reaches it
            ref = self._run_campaign(command.campaign_id)
            try:
                answered: CampaignRow = await ref.ask(command, timeout=30)
                return answered
            except ActorStopped:
                continue
        raise Rejected("the campaign is changing; try again")

    def _start_job(self, row: FirmwareJobRow) -> None:
        spec = ChildSpec.actor(
            str(row.id),
            lambda: FirmwareJobActor(self.deps, row.id),
            kind="firmware_job",
            restart=RestartType.TRANSIENT,
            mailbox_size=64,
            shutdown_timeout=5,
        )
        ref = self.jobs.start_child_nowait(spec, name=str(row.id))
        self.by_station.setdefault(row.station_id, {})[row.id] = ref

    def _tell(self, station_id: str, job_id: uuid.UUID, message: object) -> None:
        ref = self.by_station.get(station_id, {}).get(job_id)
        if ref is not None:
            with contextlib.suppress(ActorStopped):
                ref.tell_or_drop(message)

    def _deliver(self, station_id: str, message: StationMessage) -> None:
        early = self._early.get(station_id)
        if early is not None:
            early.append(message)
        self._tell_all(station_id, message)

    def _tell_all(self, station_id: str, message: object) -> None:
        jobs = self.by_station.get(station_id)
        if not jobs:
            return
        for job_id, ref in list(jobs.items()):
            try:
                ref.tell_or_drop(message)
            except ActorStopped:
                del jobs[job_id]
        if not jobs:
            del self.by_station[station_id]


def _store_started(
    conn: Connection,
    start: StartUpdate,
    request_id: int,
    command_id: str,
    columns: dict[str, Any],
) -> tuple[FirmwareJobRow, list[uuid.UUID]]:
    """The new job with the station's answer; an accepted one replaces the running job (the
    station canceled it or no longer runs it): one transaction."""
    replaced = [] if columns["state"] != "active" else repo.replace_active(conn, start.station_id)
    row = repo.insert_job(
        conn,
        station_id=start.station_id,
        request_id=request_id,
        location=start.location,
        retrieve_at=start.retrieve_at,
        install_at=start.install_at,
        retries=start.retries,
        retry_interval_s=start.retry_interval_s,
        signing_certificate=start.signing_certificate,
        signature=start.signature,
        requested_by=start.requested_by,
        command_id=command_id,
        campaign_id=start.campaign_id,
        **columns,
    )
    return row, replaced
