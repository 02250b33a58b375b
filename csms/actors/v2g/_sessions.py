"""``v2g_sessions``: the node's discharge sessions, one ``DischargeSession`` actor each under a
dynamic supervisor this actor runs.

It starts sessions (an operator's ``StartDischarge``, later the optimizer's), resumes the
active ones from the database when the node starts (``v2g_sessions``: those whose station no
other live node holds), adopts and hands over the sessions of the stations that move between
nodes (``SessionOwners``: a session is run by the node holding its station), and routes to them what
concerns their station: TransactionEvent, MeterValues and StatusNotification (notify routes,
taken inline without a task switch, and only those that can say anything to a session) and
the station's disconnects and reconnects (the event bus). It runs the sessions' one timer
(``SessionTicker``), their records' writer (``RecordWriter``) and the nursery their commands
run in. It decides nothing about a
session: the start's checks and every later step are the policy's
(``csms.services.v2g_session``), run by the session actor.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from csms.actors.events import Subscription
from csms.actors.node import NodeParts
from csms.actors.station import StationMessage
from csms.domain.events import StationConnected, StationDisconnected
from csms.runtime import (
    Actor,
    ActorContext,
    ActorError,
    ChildSpec,
    DynamicSupervisor,
    Reply,
    RestartIntensity,
    RestartType,
)
from csms.storage import v2g_sessions as repo
from csms.storage.v2g_sessions import SessionActive, SessionRow

from ._inputs import worth_routing
from ._messages import (
    ChangePower,
    DischargeRefused,
    StartDischarge,
    StationBack,
    StationGone,
    StopDischarge,
    V2XOwnerKnown,
)
from ._owners import SessionOwners
from ._router import SessionIndex
from ._session import DischargeSession, FirstSteps, SessionDeps
from ._start import plan_start
from ._ticker import SessionTicker
from ._writer import RecordWriter

__all__ = ["V2GSessions"]

log = logging.getLogger("csms.v2g")


class V2GSessions(Actor):
    background_tasks = True

    def __init__(self, parts: NodeParts, deps: SessionDeps) -> None:
        self.parts = parts
        self.options = deps.options
        self.deps = deps
        self.index = SessionIndex()
        self.sessions = DynamicSupervisor(
            name="v2g_sessions", intensity=RestartIntensity(max_restarts=50, within=10.0)
        )
        self._ctx: ActorContext | None = None
        self._feeds: list[Subscription] = []
        self.node_id = parts.events.node_id  # the node's id
        self.owners = SessionOwners(
            self.node_id,
            parts.database,
            parts.gateway,
            self.index,
            self.sessions,
            self._start_session,
        )

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        # one timer and one record writer for every session, and the nursery their commands run in
        self.deps.ticker = ticker = SessionTicker(self.options.clock, self.options.tick_interval)
        self.deps.writer = writer = RecordWriter(self.parts.database)
        self.deps.nursery = ctx.nursery
        await ctx.nursery.start(ticker.run)
        await ctx.nursery.start(writer.run)
        await ctx.nursery.start(self.sessions.run)
        for subject in (StationDisconnected.subject, StationConnected.subject):
            feed = self.parts.events.subscribe(subject)
            self._feeds.append(feed)
            ctx.nursery.start_soon(self._follow_stations, feed)
        # the sessions no other live node runs, whose station no other live node holds
        claimed = await self.parts.database.run(repo.claim, self.node_id, None)
        for session_id, station_id in claimed.sessions:
            self._start_session(session_id, station_id)
        if len(self.index):
            log.info("discharge sessions resumed", extra={"sessions": len(self.index)})
        await ctx.nursery.start(self.owners.run)

    async def on_stop(self, reason: BaseException | None) -> None:
        for feed in self._feeds:
            self.parts.events.unsubscribe(feed)
        # The sessions stop with the node but do not end: the next node resumes them.
        await self.sessions.stop()

    def receive_nowait(self, message: Any) -> bool:
        # the station messages of the routes: handed on in the station's own task
        if type(message) is StationMessage:
            self._route(message)
            return True
        return False

    def _route(self, message: StationMessage) -> None:
        if self.index.has_station(message.station_id):
            if worth_routing(message.action, message.raw):
                self.index.deliver(message.station_id, message)
        elif message.station_id in self.owners.adopting and worth_routing(
            message.action, message.raw
        ):
            self.owners.keep(message)  # handed to its session once adopted

    async def receive(self, message: Any) -> Any:
        if type(message) is StationMessage:
            self._route(message)
        elif type(message) in (StartDischarge, StopDischarge, ChangePower):
            assert self._ctx is not None
            # A start reads the database, a stop waits for its session: other starts, stops
            # and the station messages go on meanwhile.
            work = self._start if type(message) is StartDischarge else self._to_session
            self._ctx.nursery.start_soon(self._answer, work, message, self._ctx.defer_reply())
        elif type(message) is V2XOwnerKnown:
            self.deps.v2x = message.ref  # kept by the deps: a restarted incarnation has it too
        else:
            raise TypeError(f"v2g_sessions does not handle {type(message).__name__}")
        return None

    async def _answer(
        self, work: Callable[[Any], Awaitable[SessionRow | None]], message: Any, reply: Reply
    ) -> None:
        try:
            row = await work(message)
        except DischargeRefused as exc:
            log.info("discharge refused", extra={"code": exc.code, "reason": str(exc)})
            reply.fail(exc)
        except Exception as exc:  # the asker gets it; this actor carries on
            log.exception("discharge start or stop failed", extra={"error": repr(exc)})
            reply.fail(exc)
        else:
            reply.resolve(row)

    async def _start(self, start: StartDischarge) -> SessionRow:
        if not self.parts.gateway.is_connected(start.station_id):
            raise DischargeRefused(
                "station_not_connected", f"station {start.station_id!r} is not connected"
            )
        new, accepted = await plan_start(self.parts.database, self.deps.policy, self.options, start)
        new = attrs.evolve(new, node_id=self.node_id)
        try:
            row = await self.parts.database.run(repo.create, new)
        except SessionActive as exc:
            raise DischargeRefused("session_active", str(exc)) from None
        self._start_session(row.id, row.station_id, accepted.effects)
        self.owners.started[row.station_id] = trio.current_time()
        log.info(
            "discharge session started",
            extra={"session": str(row.id), "station": row.station_id, "state": row.state},
        )
        return row

    def _start_session(self, session_id: uuid.UUID, station_id: str, effects: Any = None) -> None:
        first = FirstSteps(effects)
        spec = ChildSpec.actor(
            str(session_id),
            lambda: DischargeSession(self.deps, session_id, first),
            kind="v2g_session",
            restart=RestartType.TRANSIENT,
            mailbox_size=256,
            shutdown_timeout=5,
        )
        # A restarted session reads its row again (it is the one writer of it).
        ref = self.sessions.start_child_nowait(spec, name=str(session_id))
        self.index.add(session_id, station_id, ref)

    async def _to_session(self, message: StopDischarge | ChangePower) -> SessionRow | None:
        ref = self.index.get(message.session_id)
        if ref is not None:
            try:
                row: SessionRow | None = await ref.ask(
                    message, timeout=self.options.command_timeout
                )
                return row
            except ActorError:
                pass  # it ended meanwhile: its row says how
        return await self.parts.database.run(repo.get, message.session_id)

    async def _follow_stations(self, feed: Subscription) -> None:
        async for event in feed:
            station_id = getattr(event, "station_id", "")
            if not self.index.has_station(station_id):
                if type(event) is StationConnected:
                    self.owners.connected(station_id)  # a session of it may be adopted
                continue
            # when it happened, not when a session gets to it: the grace counts from then
            if type(event) is StationDisconnected:
                if self.owners.taken_over(station_id):
                    # its socket is on another node now: that node runs its sessions
                    assert self._ctx is not None
                    self._ctx.nursery.start_soon(self.owners.hand_over, station_id)
                else:
                    self.index.deliver(station_id, StationGone(station_id, event.at))
            elif type(event) is StationConnected:
                self.index.deliver(station_id, StationBack(station_id, event.at))
                if not self.index.has_station(station_id):  # those were ended: another may run
                    self.owners.connected(station_id)
