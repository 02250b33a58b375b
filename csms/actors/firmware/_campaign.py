"""``FirmwareCampaign``: one campaign, a thin shell over ``csms.services.firmware_campaign``.

It starts the jobs of its stations through the node's ``firmware`` actor (``StartUpdate`` with
the campaign's id) as slots free up, hears their end from the event bus (``firmware.update.
completed|failed`` of its campaign) and, in case the bus dropped one, from the database at
each tick; it keeps each station's state and the campaign's in the database, so a restarted
node resumes it, and publishes ``firmware.campaign.*``. It stops once nothing of the campaign
runs and nothing more will start (completed, canceled, or halted or paused with no job left).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from typing import Any

import attrs

from csms.actors.database import Database
from csms.actors.events import EventBus, Subscription
from csms.domain.events import (
    FirmwareCampaignProgress,
    FirmwareCampaignState,
    FirmwareUpdateCompleted,
    FirmwareUpdateFailed,
)
from csms.runtime import Actor, ActorContext, ActorError, ActorRef, ActorStopped, Rejected
from csms.services import firmware_campaign as policy
from csms.storage import Connection
from csms.storage import firmware_campaigns as repo
from csms.storage.firmware_campaigns import CampaignRow, CampaignStation

from ._messages import (
    CampaignCommand,
    FirmwareOptions,
    StartUpdate,
    Tick,
    UpdateRefused,
    tick_every,
)

__all__ = ["CampaignDeps", "FirmwareCampaignActor"]

log = logging.getLogger("csms.firmware")
_COMMANDS: dict[str, policy.Input] = {
    "pause": policy.Pause(),
    "resume": policy.Resume(),
    "cancel": policy.Cancel(),
}


@attrs.define
class CampaignDeps:
    database: Database
    events: EventBus
    options: FirmwareOptions
    #: the node's ``firmware`` actor, which starts the jobs
    jobs: ActorRef


@attrs.frozen
class StationOffline:
    station_id: str


@attrs.frozen
class StationEnded:
    station_id: str
    installed: bool
    reason: str | None


class FirmwareCampaignActor(Actor):
    background_tasks = True

    def __init__(self, deps: CampaignDeps, campaign_id: uuid.UUID) -> None:
        self.deps = deps
        self.id = campaign_id
        self.row: CampaignRow | None = None
        self.campaign: policy.Campaign | None = None
        #: stations whose job is being started or runs (each ends once)
        self.running: set[str] = set()
        #: stations found offline at their start: retried from the next tick on, failed after
        #: ``OFFLINE_TRIES`` (stations reconnect over a few seconds after a node restart)
        self.offline: dict[str, int] = {}
        self.deferred: set[str] = set()
        self._ctx: ActorContext | None = None
        self._events: Subscription | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        # subscribed before anything is read: no job's end falls between the two
        self._events = self.deps.events.subscribe("firmware.update.")
        row, stations = await self.deps.database.run(_load, self.id)
        if row is None:
            ctx.stop()
            return
        self.row = row
        self.running = {s.station_id for s in stations if s.state == "running"}
        counts = policy.Counts(**{s: sum(1 for x in stations if x.state == s) for s in _STATES})
        self.campaign = policy.Campaign(
            _state(row.state), row.max_concurrent, row.failure_threshold, counts, row.reason
        )
        ctx.nursery.start_soon(self._listen, ctx.ref, self._events)
        ctx.nursery.start_soon(tick_every, self.deps.options.campaign_tick, ctx.ref)
        opened = self.campaign
        await self._apply(policy.Opened())
        if self.campaign == opened:  # (re)started as it stood: said once per node start
            self.deps.events.publish(FirmwareCampaignState(**self._fields()))
        await self._reconcile()
        await self._fill()
        # not stopped here even if settled: a command may be on its way (the next tick stops it)

    async def on_stop(self, reason: BaseException | None) -> None:
        if self._events is not None:
            self.deps.events.unsubscribe(self._events)

    async def _listen(self, ref: ActorRef, events: Subscription) -> None:
        mine = str(self.id)
        async for event in events:
            if isinstance(event, FirmwareUpdateCompleted | FirmwareUpdateFailed):
                if event.campaign_id != mine:
                    continue
                installed = isinstance(event, FirmwareUpdateCompleted)
                reason = None if installed else event.reason  # type: ignore[union-attr]
                with contextlib.suppress(ActorStopped):
                    await ref.tell(StationEnded(event.station_id, installed, reason))

    async def receive(self, message: Any) -> Any:
        if self.campaign is None:
            return None
        kind = type(message)
        if kind is StationEnded:
            await self._ended(message)
        elif kind is StationOffline:
            await self._offline(message.station_id)
        elif kind is Tick:
            self.deferred.clear()
            await self._reconcile()
        elif kind is CampaignCommand:
            return await self._command(message)
        await self._fill()
        self._stop_if_settled()
        return None

    async def _command(self, command: CampaignCommand) -> CampaignRow:
        assert self.campaign is not None
        event = _COMMANDS.get(command.action)
        if event is None:
            raise Rejected(f"unknown campaign action {command.action!r}")
        before = self.campaign.state
        await self._apply(event)
        if self.campaign.state == before:
            raise Rejected(f"a {before} campaign cannot be {_PAST[command.action]}")
        log.info(
            "firmware campaign " + _PAST[command.action],
            extra={"campaign": str(self.id), "by": command.requested_by},
        )
        await self._fill()
        self._stop_if_settled()
        assert self.row is not None
        return self.row

    async def _ended(self, ended: StationEnded) -> None:
        if ended.station_id not in self.running:
            return  # already counted (the start's answer and the event both tell it)
        self.running.discard(ended.station_id)
        state = "installed" if ended.installed else "failed"
        await self.deps.database.run(
            repo.set_station, self.id, ended.station_id, state, reason=ended.reason
        )
        await self._apply(policy.Ended(installed=ended.installed))
        self._progress(ended.station_id, state)

    async def _offline(self, station_id: str) -> None:
        tries = self.offline[station_id] = self.offline.get(station_id, 0) + 1
        if tries >= OFFLINE_TRIES:
            reason = f"station_not_connected ({tries} tries)"
            await self._ended(StationEnded(station_id, False, reason))
            return
        if station_id not in self.running:
            return
        self.running.discard(station_id)
        self.deferred.add(station_id)
        await self.deps.database.run(repo.set_station, self.id, station_id, "pending")
        await self._apply(policy.Deferred())

    async def _reconcile(self) -> None:
        """Jobs that ended while no one listened (a dropped event, a node restart)."""
        for station, job_state, reason in await self.deps.database.run(repo.job_outcomes, self.id):
            await self._ended(StationEnded(station, job_state == "completed", reason))

    async def _fill(self) -> None:
        """Start jobs while there are slots (skipping stations on the target version) and the
        campaign's window is open (else the next tick looks again)."""
        assert self.campaign is not None
        assert self.row is not None
        assert self._ctx is not None
        now = self.deps.options.clock().astimezone(dt.UTC).time()
        if not policy.in_window(self.row.window_start, self.row.window_end, now):
            return
        while (slots := policy.launchable(self.campaign)) > 0:
            pending = await self.deps.database.run(
                repo.next_pending, self.id, slots, sorted(self.deferred)
            )
            if not pending:
                return
            for station in pending:
                if policy.should_skip(station.firmware_version, self.row.target_version):
                    await self.deps.database.run(
                        repo.set_station, self.id, station.station_id, "skipped"
                    )
                    await self._apply(policy.Skipped())
                    self._progress(station.station_id, "skipped")
                    continue
                await self.deps.database.run(
                    repo.set_station, self.id, station.station_id, "running"
                )
                self.running.add(station.station_id)
                await self._apply(policy.Launched())
                self._ctx.nursery.start_soon(self._launch, self._ctx.ref, station)

    async def _launch(self, ref: ActorRef, station: CampaignStation) -> None:
        assert self.row is not None
        row = self.row
        start = StartUpdate(
            station_id=station.station_id,
            location=row.location,
            retrieve_at=self.deps.options.clock(),
            requested_by=f"campaign:{row.name}",
            retries=row.retries,
            retry_interval_s=row.retry_interval_s,
            signing_certificate=row.signing_certificate,
            signature=row.signature,
            campaign_id=self.id,
        )
        ended: StationEnded | None = None
        try:
            job = await self.deps.jobs.ask(start, timeout=self.deps.options.command_timeout + 10)
        except UpdateRefused as exc:
            if exc.code == "station_not_connected":
                with contextlib.suppress(ActorStopped):
                    await ref.tell(StationOffline(station.station_id))
                return
            ended = StationEnded(station.station_id, False, exc.code)
        except (ActorError, TimeoutError):
            ended = StationEnded(station.station_id, False, "not_started")
        else:
            await self.deps.database.run(repo.set_job, self.id, station.station_id, job.id)
            if job.state != "active":  # refused: Rejected, InvalidCertificate, ...
                ended = StationEnded(station.station_id, job.state == "completed", job.reason)
        if ended is not None:
            with contextlib.suppress(ActorStopped):
                await ref.tell(ended)

    async def _apply(self, event: policy.Input) -> None:
        assert self.campaign is not None
        before = self.campaign
        self.campaign = policy.step(before, event)
        if self.campaign.state != before.state:
            self.row = await self.deps.database.run(
                repo.set_campaign_state, self.id, self.campaign.state, self.campaign.reason
            )
            log.info(
                "firmware campaign state",
                extra={"campaign": str(self.id), "state": self.campaign.state},
            )
            self.deps.events.publish(FirmwareCampaignState(**self._fields()))

    def _progress(self, station_id: str, state: Any) -> None:
        self.deps.events.publish(
            FirmwareCampaignProgress(**self._fields(), station_id=station_id, station_state=state)
        )

    def _fields(self) -> dict[str, Any]:
        assert self.campaign is not None
        counts = attrs.asdict(self.campaign.counts)
        return {
            "campaign_id": str(self.id),
            "state": self.campaign.state,
            "reason": self.campaign.reason,
            **counts,
        }

    def _stop_if_settled(self) -> None:
        assert self.campaign is not None
        assert self._ctx is not None
        if policy.settled(self.campaign) and not self.running:
            self._ctx.stop()


#: how many ticks in a row a station may be offline at its start before it counts as failed
OFFLINE_TRIES = 3
_STATES = ("pending", "running", "installed", "failed", "skipped")
_PAST = {"pause": "paused", "resume": "resumed", "cancel": "canceled"}


def _state(value: str) -> policy.CampaignState:
    assert value in ("running", "paused", "halted", "completed", "canceled")
    return value  # type: ignore[return-value]


def _load(
    conn: Connection, campaign_id: uuid.UUID
) -> tuple[CampaignRow | None, list[CampaignStation]]:
    repo.requeue_unstarted(conn, campaign_id)
    return repo.get_campaign(conn, campaign_id), repo.campaign_stations(conn, campaign_id)
