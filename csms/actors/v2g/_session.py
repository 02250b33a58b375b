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

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.actors.station import StationMessage
from csms.actors.v2x import AllowV2X, SetpointChanged
from csms.commands import CommandError, StationGateway
from csms.protocol import Version
from csms.runtime import Actor, ActorContext, ActorError, ActorRef, ActorStopped
from csms.services import v2g_session as policy
from csms.services.v2x_capability import capability_from_needs
from csms.storage import v2g_sessions as repo
from csms.storage.v2g_sessions import SessionRow

from ._messages import (
    ChangePower,
    CommandAnswered,
    SessionOptions,
    StationBack,
    StationGone,
    StopDischarge,
    Tick,
)
from ._readings import evse_faulted, readings, transaction_ended, transaction_of
from ._record import event_of, store_record
from ._start import row_of

__all__ = ["DischargeSession", "FirstSteps", "SessionDeps"]

log = logging.getLogger("csms.v2g")

ACCEPTED = "Accepted"


@attrs.define
class SessionDeps:
    """What every session of the node shares."""

    gateway: StationGateway
    database: Database
    events: EventBus
    options: SessionOptions
    policy: policy.SessionPolicy
    #: The V2X owner (``csms/actors/v2x``), told the setpoints of Dynamic profiles (Q04).
    v2x: ActorRef | None = None


class FirstSteps:
    """The effects a new session starts with, taken by its first incarnation only (a restart
    after a crash resumes from the row instead)."""

    __slots__ = ("effects",)

    def __init__(self, effects: Sequence[policy.Effect] | None) -> None:
        self.effects = effects

    def take(self) -> Sequence[policy.Effect] | None:
        effects, self.effects = self.effects, None
        return effects


_TICK = Tick()


@attrs.frozen
class _Apply:
    effects: Sequence[policy.Effect]


class DischargeSession(Actor):
    background_tasks = True

    def __init__(self, deps: SessionDeps, session_id: uuid.UUID, first: FirstSteps) -> None:
        self.deps = deps
        self.session_id = session_id
        self.first = first
        self.row: SessionRow | None = None
        self.state: policy.SessionState | None = None
        self.ending = False
        self._ctx: ActorContext | None = None

    # -- life ----------------------------------------------------------------------------------

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        deps = self.deps
        row = await deps.database.run(repo.get, self.session_id)
        if row is None or not row.active:
            ctx.stop()
            return
        self.row = row
        self.state = state = policy.state_from_json(row.policy_state)
        effects = self.first.take()
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
            effects = resumed
            log.info(
                "discharge session resumed",
                extra={"session": str(self.session_id), "state": self.state.state},
            )
        ctx.ref.tell_nowait(_Apply(effects))
        ctx.nursery.start_soon(self._ticks, ctx.ref)

    async def on_stop(self, reason: BaseException | None) -> None:
        # The node stops (or this actor crashed): what changed since the last record is kept
        # for the next node to resume from (readings, the export register's first value).
        state, row = self.state, self.row
        if state is None or row is None or self.ending or not state.active:
            return
        if policy.state_to_json(state) == row.policy_state:
            return
        try:
            await self.deps.database.run(repo.save, self.session_id, **row_of(state))
        except Exception as exc:
            log.warning(
                "discharge session not saved",
                extra={"session": str(self.session_id), "error": repr(exc)},
            )

    async def _ticks(self, ref: ActorRef) -> None:
        interval = self.deps.options.tick_interval
        while True:
            await trio.sleep(interval)
            try:
                ref.tell_or_drop(_TICK)
            except ActorStopped:
                return

    # -- messages ------------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        if self.state is None:
            return None
        kind = type(message)
        if kind is StationMessage:
            await self._step_all(self._inputs(message))
        elif kind is Tick:
            await self._step(policy.Tick(self.deps.options.clock()))
        elif kind is CommandAnswered:
            await self._answered(message)
        elif kind is StationGone:
            await self._step(policy.StationDisconnected(message.at))
        elif kind is StationBack:
            await self._step(policy.StationReconnected(message.at))
        elif kind is StopDischarge:
            await self._step(policy.OperatorStop(self.deps.options.clock()))
            return self.row
        elif kind is ChangePower:
            await self._step(policy.ChangePower(self.deps.options.clock(), message.power_w))
            return self.row
        elif kind is _Apply:
            await self._apply(message.effects)
        return None

    def _inputs(self, message: StationMessage) -> list[policy.Input]:
        """The policy's inputs in a station message that concerns this session."""
        state = self.state
        assert state is not None
        raw, action = message.raw, message.action
        now = self.deps.options.clock()
        found: list[policy.Input] = []
        if action == "TransactionEvent":
            if transaction_of(raw) != state.transaction_id:
                return found
            found += _meter_inputs(state, raw.get("meterValue") or (), now)
            if transaction_ended(raw):
                found.append(policy.TransactionEnded(now))
        elif action == "MeterValues":
            if raw.get("evseId") == state.evse_id:
                found += _meter_inputs(state, raw.get("meterValue") or (), now)
        elif action == "StatusNotification":
            if evse_faulted(raw, state.evse_id):
                found.append(policy.StationFault(now))
        elif action == "NotifyEVChargingNeeds" and raw.get("evseId") == state.evse_id:
            try:
                capability = capability_from_needs(raw, Version(message.version))
            except (TypeError, ValueError):
                return found
            found.append(policy.NeedsRenegotiated(now, capability))
        return found

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

    async def _step_all(self, inputs: list[policy.Input]) -> None:
        for event in inputs:
            await self._step(event)

    async def _step(self, event: policy.Input) -> None:
        before = self.state
        if before is None or self.ending:
            return
        self.state, effects = self.deps.policy.step(before, event)
        after = self.state
        if (
            (before.first_export_wh is None) != (after.first_export_wh is None)
            or before.setpoint_w != after.setpoint_w
        ) and not any(isinstance(e, policy.Record | policy.End) for e in effects):
            # Kept at once, not at the next record: exportedWh counts from the first export
            # reading (a node that dies meanwhile must not lose it), and the session's JSON
            # shows the setpoint commanded.
            self.row = await self.deps.database.run(repo.save, self.session_id, **row_of(after))
        await self._apply(effects)

    # -- effects -------------------------------------------------------------------------------

    async def _apply(self, effects: Sequence[policy.Effect]) -> None:
        if any(isinstance(e, policy.End) for e in effects):
            await self._end(effects)
            return
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
                    await self._record(effect)
                case _:
                    raise TypeError(f"unexpected effect {effect!r} before an end")

    def _allow_v2x(self, request: dict[str, Any]) -> None:
        """Q02.FR.05 through the V2X owner, which keeps the EVSE's allowed transfer and then
        leaves the promised profile to this session; without one, the policy's request."""
        assert self._ctx is not None
        if self.deps.v2x is None:
            self._command("NotifyAllowedEnergyTransfer", request, "allowed")
        else:
            self._ctx.nursery.start_soon(self._ask_allow_v2x, self.deps.v2x)

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
        assert self._ctx is not None
        self._ctx.nursery.start_soon(self._send, action, payload, purpose)

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

    async def _record(self, record: policy.Record) -> None:
        state = record.state
        row = await self.deps.database.run(
            store_record, self.session_id, row_of(state), record.kind, state
        )
        self.row = row
        self.deps.events.publish(event_of(record.kind, row, state))

    async def _end(self, effects: Sequence[policy.Effect]) -> None:
        """Charging restored first, then the end recorded: the row is ``stopping`` meanwhile
        (its policy state too, so that a node that stops now has the next one end it)."""
        assert self.state is not None
        assert self._ctx is not None
        self.ending = True
        pending = attrs.evolve(self.state, state="stopping", ended_at=None, end_reason=None)
        self.row = await self.deps.database.run(
            repo.save, self.session_id, state="stopping", policy_state=policy.state_to_json(pending)
        )
        self._ctx.nursery.start_soon(self._finish, effects)

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


def _meter_inputs(
    state: policy.SessionState, meter_values: Any, now: dt.datetime
) -> list[policy.Input]:
    # Taken at the sessions' clock, as its ticks are: a reading the station queued while
    # offline is judged when it arrives (its own timestamp may lie far back).
    return [
        policy.MeterReading(now, r.soc_percent, r.export_register_wh, r.export_power_w)
        for r in readings(state.station_id, state.evse_id, meter_values)
    ]
