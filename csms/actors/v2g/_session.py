"""``DischargeSession``: one discharge session, a thin shell over ``SessionPolicy``.

It turns what reaches it (its transaction's meter values and end, its EVSE's fault, the
station going and coming back, the operator's stop, its own ticks, the station's answers) into
the policy's inputs and carries out the effects the policy returns, in order: commands through
the gateway (from tasks of its own: the mailbox never waits for a station), the session's row
and trail in the database, the ``v2g.session.*`` events. It decides nothing itself.

An end (``RestoreCharging``, ``Record("completed")``, ``End``) runs in a task: the row says
``stopping`` while charging is restored, then the session is recorded as ended and the actor
stops. A node that stops meanwhile leaves the row ``stopping``; the next node's resume ends it
again (``node_restart_lost``), restoring charging once more.

Kept light (a node runs thousands): no trio task of its own besides its mailbox's (its clock
is the node's one ``SessionTicker``, its commands run in the sessions' shared nursery), and only
its policy state (not the row it was read from or saved as).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from csms.actors.station import StationMessage
from csms.actors.v2x import AllowV2X, SetpointChanged
from csms.commands import CommandError
from csms.protocol import Version
from csms.runtime import Actor, ActorContext, ActorError, ActorRef, ActorStopped
from csms.services import v2g_session as policy
from csms.storage import v2g_sessions as repo
from csms.storage.v2g_sessions import SessionRow

from ._deps import FirstSteps, SessionDeps
from ._inputs import session_inputs
from ._messages import (
    ChangePower,
    CommandAnswered,
    StationBack,
    StationGone,
    StopDischarge,
    Tick,
)
from ._recording import SessionRecords
from ._start import row_of
from ._tasks import Crashed

__all__ = ["DischargeSession", "FirstSteps", "SessionDeps"]

log = logging.getLogger("csms.v2g")

ACCEPTED = "Accepted"


class _Begin:
    """Told by a new incarnation to itself: carry out its first effects."""

    __slots__ = ()


_BEGIN = _Begin()


class DischargeSession(SessionRecords, Actor):
    # no background_tasks: a nursery of its own costs about 1.3 KiB a session
    __slots__ = (
        "_ctx",
        "_due",
        "_pending",
        "deps",
        "ending",
        "first",
        "session_id",
        "state",
    )

    def __init__(self, deps: SessionDeps, session_id: uuid.UUID, first: FirstSteps) -> None:
        self.deps = deps
        self.session_id = session_id
        self.first: FirstSteps | None = first
        self.state: policy.SessionState | None = None
        self.ending = False
        self._ctx: ActorContext | None = None
        #: The state changed since it was last stored (kept by ``on_stop`` then).
        self._dirty = False
        #: The deadline last given to the ticker.
        self._due: dt.datetime | None = None
        #: The effects to carry out before the first message (the start's, or the resume's).
        self._pending: Sequence[policy.Effect] | None = None
        self._tasks = None
        self._stopped = False

    # -- life ----------------------------------------------------------------------------------

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        deps = self.deps
        row = await deps.database.run(repo.get, self.session_id)
        if row is None or not row.active:
            ctx.stop()
            return
        self.state = state = policy.state_from_json(row.policy_state)
        del row  # the policy state is all a session keeps
        first, self.first = self.first, None
        effects = None if first is None else first.take()
        if effects is None:
            active = await deps.database.run(
                repo.transaction_active, state.station_id, state.transaction_id
            )
            self.state, resumed = deps.policy.resume(
                state,
                now=deps.options.clock(),
                station_connected=deps.gateway.is_connected(state.station_id),
                transaction_active=active,
            )
            self._dirty = self.state is not state
            effects = resumed
            log.info(
                "discharge session resumed",
                extra={"session": str(self.session_id), "state": self.state.state},
            )
        # Carried out before the first message, whatever it is; the nudge is told once the
        # actor waits for its first message (the task runs after on_start has returned), so it
        # is handed over directly rather than queued in a buffer the mailbox would then keep
        # for the session's life.
        self._pending = effects
        self._spawn(ctx.ref.tell, _BEGIN)
        self._schedule()

    async def on_stop(self, reason: BaseException | None) -> None:
        self._cancel_tasks()
        if self.deps.ticker is not None and self._ctx is not None:
            self.deps.ticker.remove(self._ctx.ref)
        await self._settled()
        # The node stops (or this actor crashed): what changed since the last record is kept
        # for the next node to resume from (readings, the export register's first value).
        state = self.state
        if state is None or self.ending or not state.active or not self._dirty:
            return
        try:
            await self.deps.database.run(repo.update, self.session_id, **row_of(state))
        except Exception as exc:
            log.warning(
                "discharge session not saved",
                extra={"session": str(self.session_id), "error": repr(exc)},
            )

    def _schedule(self) -> None:
        """Give the ticker the state's next deadline, if it moved."""
        ticker, ctx, state = self.deps.ticker, self._ctx, self.state
        if ticker is None or ctx is None:
            return
        due = None if state is None or self.ending else self.deps.policy.due(state)
        if due != self._due or (due is not None and ctx.ref not in ticker):
            self._due = due
            ticker.set(ctx.ref, due)

    # -- messages ------------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        if self.state is None:
            return None
        if self._pending is not None:
            effects, self._pending = self._pending, None
            await self._apply(effects)
        kind = type(message)
        if kind is StationMessage:
            for event in session_inputs(self.state, message, self.deps.options.clock()):
                await self._step(event)
        elif kind is Tick:
            self._due = None  # the ticker forgot it: given again after the step
            await self._step(policy.Tick(self.deps.options.clock()))
            self._schedule()
        elif kind is CommandAnswered:
            await self._answered(message)
        elif kind is StationGone:
            await self._step(policy.StationDisconnected(message.at))
        elif kind is StationBack:
            await self._step(policy.StationReconnected(message.at))
        elif kind is StopDischarge:
            return await self._answer(policy.OperatorStop(self.deps.options.clock()))
        elif kind is ChangePower:
            return await self._answer(
                policy.ChangePower(self.deps.options.clock(), message.power_w)
            )
        elif kind is Crashed:
            raise message.error
        return None

    def _nursery(self) -> trio.Nursery:
        assert self.deps.nursery is not None
        return self.deps.nursery

    async def _answer(self, event: policy.Input) -> SessionRow | None:
        """An ask's step, answered with the session's row as it is stored afterwards."""
        row = await self._step(event, answer=True)
        if row is None:
            await self._settled()
            row = await self.deps.database.run(repo.get, self.session_id)
        return row

    async def _answered(self, answer: CommandAnswered) -> None:
        if answer.purpose not in ("profile", "setpoint"):
            return  # NotifyAllowedEnergyTransfer: the renegotiated needs (or their absence) tell
        status = None if answer.response is None else answer.response.get("status")
        if answer.error is not None or status != ACCEPTED:
            log.warning(
                "discharge command not accepted",
                extra={
                    "session": str(self.session_id),
                    "action": answer.action,
                    "status": status,
                    "error": answer.error,
                },
            )
        await self._step(policy.ProfileAnswer(self.deps.options.clock(), status == ACCEPTED))

    async def _step(self, event: policy.Input, *, answer: bool = False) -> SessionRow | None:
        """One policy step and its effects; the row when one was stored and read back
        (``answer``: an ask wants it)."""
        before = self.state
        if before is None or self.ending:
            return None
        self.state, effects = self.deps.policy.step(before, event)
        after = self.state
        if after is before and not effects:
            return None
        self._dirty = True
        row = None
        if (
            (before.first_export_wh is None) != (after.first_export_wh is None)
            or before.setpoint_w != after.setpoint_w
        ) and not any(isinstance(e, policy.Record | policy.End) for e in effects):
            # Kept at once, not at the next record: exportedWh counts from the first export
            # reading (a node that dies meanwhile must not lose it), and the session's JSON
            # shows the setpoint commanded.
            row = await self._save(after, answer=answer)
        applied = await self._apply(effects, answer=answer)
        self._schedule()
        return row if applied is None else applied

    async def _save(self, state: policy.SessionState, *, answer: bool) -> SessionRow | None:
        database, changes = self.deps.database, row_of(state)
        row = None
        await self._settled()
        if answer:
            row = await database.run(repo.save, self.session_id, **changes)
        else:
            await database.run(repo.update, self.session_id, **changes)
        self._dirty = state is not self.state
        return row

    # -- effects -------------------------------------------------------------------------------

    async def _apply(
        self, effects: Sequence[policy.Effect], *, answer: bool = False
    ) -> SessionRow | None:
        if any(isinstance(e, policy.End) for e in effects):
            return await self._end(effects)
        row = None
        for effect in effects:
            match effect:
                case policy.SendProfile(request=request):
                    self._command("SetChargingProfile", request, "profile")
                    self._tell_setpoint()
                case policy.SendSetpoint(request=request):
                    self._command("UpdateDynamicSchedule", request, "setpoint")
                    self._tell_setpoint()
                case policy.SendAllowedEnergyTransfer(request=request):
                    self._allow_v2x(request)
                case policy.Record():
                    row = await self._record(effect, answer=answer) or row
                case _:
                    raise TypeError(f"unexpected effect {effect!r} before an end")
        return row

    def _allow_v2x(self, request: dict[str, Any]) -> None:
        """Q02.FR.05 through the V2X owner, which keeps the EVSE's allowed transfer and then
        leaves the promised profile to this session; without one, the policy's request."""
        assert self._ctx is not None
        if self.deps.v2x is None:
            self._command("NotifyAllowedEnergyTransfer", request, "allowed")
        else:
            self._spawn(self._ask_allow_v2x, self.deps.v2x)

    async def _ask_allow_v2x(self, v2x: ActorRef) -> None:
        state = self.state
        assert state is not None
        error: str | None = None
        try:
            allowed = await v2x.ask(
                AllowV2X(state.station_id, state.evse_id), timeout=self.deps.options.command_timeout
            )
        except (ActorError, TimeoutError) as exc:
            allowed, error = None, repr(exc)
        # Nothing offered: the EV cannot renegotiate and the policy's timeout ends the session.
        log.info(
            "V2X offered to the EV" if allowed else "V2X not offered to the EV",
            extra={"session": str(self.session_id), "allowed": allowed, "error": error},
        )

    def _command(self, action: str, payload: dict[str, Any], purpose: str) -> None:
        self._spawn(self._send, action, payload, purpose)

    async def _send(self, action: str, payload: dict[str, Any], purpose: str) -> None:
        answer = await self._call(action, payload, purpose)
        assert self._ctx is not None
        with contextlib.suppress(ActorStopped):
            await self._ctx.ref.tell(answer)

    async def _call(self, action: str, payload: dict[str, Any], purpose: str) -> CommandAnswered:
        assert self.state is not None
        deps = self.deps
        try:
            result = await deps.gateway.send(
                self.state.station_id,
                action,
                payload,
                requested_by="v2g",
                deadline=trio.current_time() + deps.options.command_timeout,
            )
        except CommandError as exc:
            return CommandAnswered(action, purpose, None, exc.code)
        return CommandAnswered(action, purpose, result.response)

    def _tell_setpoint(self, *, ended: bool = False) -> None:
        """The V2X owner answers the station's PullDynamicScheduleUpdate with it (Q04)."""
        state, v2x = self.state, self.deps.v2x
        if v2x is None or state is None or state.version is not Version.V21:
            return
        if not self.deps.policy.dynamic:
            return
        setpoint = None if ended or state.setpoint_w is None else -state.setpoint_w
        with contextlib.suppress(ActorStopped):
            v2x.tell_or_drop(SetpointChanged(state.station_id, state.evse_id, setpoint))

    async def _end(self, effects: Sequence[policy.Effect]) -> SessionRow:
        """Charging restored first, then the end recorded: the row is ``stopping`` meanwhile
        (its policy state too, so that a node that stops now has the next one end it)."""
        assert self.state is not None
        self.ending = True
        self._schedule()
        pending = attrs.evolve(self.state, state="stopping", ended_at=None, end_reason=None)
        await self._settled()
        row = await self.deps.database.run(
            repo.save, self.session_id, state="stopping", policy_state=policy.state_to_json(pending)
        )
        self._spawn(self._finish, effects)
        return row

    async def _finish(self, effects: Sequence[policy.Effect]) -> None:
        assert self._ctx is not None
        for effect in effects:
            match effect:
                case policy.RestoreCharging(clear=clear, profile=profile):
                    if clear is not None:
                        answer = await self._call("ClearChargingProfile", clear, "restore")
                    else:
                        assert profile is not None
                        answer = await self._call("SetChargingProfile", profile, "restore")
                    log.info(
                        "charging restored" if answer.error is None else "charging not restored",
                        extra={
                            "session": str(self.session_id),
                            "action": answer.action,
                            "error": answer.error,
                        },
                    )
                case policy.Record():
                    await self._record(effect)
                case policy.End(reason=reason):
                    log.info(
                        "discharge session ended",
                        extra={"session": str(self.session_id), "reason": reason},
                    )
        self._tell_setpoint(ended=True)
        self._ctx.stop()
