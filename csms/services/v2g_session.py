"""A V2G discharge session as a pure state machine (SPEC section 6, OCPP 2.1 Q03/Q04/Q11/Q12).

``SessionPolicy.start`` decides whether a discharge may start (a stable refusal code, answered
409 by the API) and what to command; ``SessionPolicy.step`` takes one input (a meter reading,
a tick of the clock, an operator stop, the transaction's end, the station going or coming
back, a fault, the station's answer to the profile, renegotiated needs, a new power) and
returns the next state with the effects the session actor carries out, in order:
``SendProfile``, ``SendSetpoint`` (UpdateDynamicSchedule, Q04), ``SendAllowedEnergyTransfer``
(Q02.FR.05), ``RestoreCharging``, ``Record`` (an event to publish and store) and ``End``.

Safety rules, held for any input (tests/services/test_v2g_session.py, a property test):

- the power commanded never exceeds min(the user's maximum, the EV's maximum discharge power);
- a reading at or below the SoC floor ends the session in that step: nothing continues there;
- every end restores charging (``RestoreCharging`` before ``End``): the discharge profile is
  replaced by a ChargingOnly one where the EV still needs energy, else cleared;
- ``exported_wh`` is the export register's last reading minus its first (never integrated).

States: ``negotiating`` (2.1: the EV charges unidirectionally but lists a BPT mode; csms sent
NotifyAllowedEnergyTransfer and waits for its renegotiated needs), ``starting`` (the discharge
profile is sent), ``discharging`` (the station accepted it), then ``completed`` or ``failed``.
``requested`` and ``stopping`` are the actor's (a start being checked, a restore in flight).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import attrs

from csms.protocol import Version

from .v2g_preferences import V2GPreferences, window_allows, window_end
from .v2g_profiles import (
    DEFAULT_MAX_OFFLINE_S,
    charge_limit_w,
    charging_only_profile,
    clear_profile_request,
    discharge_profile,
    dynamic_schedule_update,
)
from .v2g_session_values import (
    ACTIVE,
    FAILED_REASONS,
    ChangePower,
    Decision,
    Effect,
    End,
    EndReason,
    Input,
    MeterReading,
    NeedsRenegotiated,
    OperatorStop,
    ProfileAnswer,
    Record,
    RestoreCharging,
    SendAllowedEnergyTransfer,
    SendProfile,
    SendSetpoint,
    SessionState,
    StartAccepted,
    StartRefusal,
    StartRefused,
    StartRequest,
    StateName,
    StationDisconnected,
    StationFault,
    StationReconnected,
    Tick,
    TransactionEnded,
    state_from_json,
    state_to_json,
)
from .v2x_capability import ENERGY_TRANSFER_MODES, EVCapability, StationV2XSupport

__all__ = [
    "ACTIVE",
    "FAILED_REASONS",
    "ChangePower",
    "Decision",
    "Effect",
    "End",
    "EndReason",
    "Input",
    "MeterReading",
    "NeedsRenegotiated",
    "OperatorStop",
    "ProfileAnswer",
    "Record",
    "RestoreCharging",
    "SendAllowedEnergyTransfer",
    "SendProfile",
    "SendSetpoint",
    "SessionPolicy",
    "SessionState",
    "StartAccepted",
    "StartRefusal",
    "StartRefused",
    "StartRequest",
    "StateName",
    "StationDisconnected",
    "StationFault",
    "StationReconnected",
    "Tick",
    "TransactionEnded",
    "state_from_json",
    "state_to_json",
]


def _station_can_discharge(station: StationV2XSupport, version: Version) -> bool:
    # 2.1: never a mode the station did not list (K01.FR.115); 2.0.1: the declaration.
    if version is Version.V201:
        return station.declared_bidirectional
    return station.enabled is not False and station.supports("CentralSetpoint")


def _ev_can_discharge(cap: EVCapability | None, version: Version) -> bool:
    if cap is None:
        return False
    if version is Version.V201:
        return cap.source == "custom_data" and cap.bidirectional_requested
    return cap.bidirectional_available


def _below_departure_need(
    energy_wh: Decimal | None, soc: Decimal | None, battery: Decimal | None
) -> bool:
    if energy_wh is None or soc is None or battery is None:
        return False
    return soc * battery / 100 <= energy_wh


@attrs.frozen
class SessionPolicy:
    """The session rules with the operator's settings: time zone, the grace after a station
    disconnects, how often ``updated`` is recorded, the offline duration of a V2X profile
    (Q11), how long a renegotiation may take, and Dynamic (Q04) or Absolute profiles."""

    tz: dt.tzinfo
    disconnect_grace_s: int = 60
    update_interval_s: int = 5
    max_offline_s: int = DEFAULT_MAX_OFFLINE_S
    negotiation_timeout_s: int = 60
    dynamic: bool = True

    def start(self, req: StartRequest) -> Decision:
        """The start's checks in a fixed order, each a stable refusal code; or the session in
        ``starting`` with its discharge profile (or ``negotiating``, Q02.FR.05)."""
        if req.power_w <= 0:
            raise ValueError("the discharge power must be positive")
        prefs, cap = req.preferences, req.capability
        refusal: StartRefusal | None = None
        if not req.station_connected:
            refusal = "station_not_connected"
        elif req.transaction_id is None:
            refusal = "no_active_transaction"
        elif req.session_active:
            refusal = "session_active"
        elif not _ev_can_discharge(cap, req.version):
            refusal = "ev_not_bidirectional"
        elif not _station_can_discharge(req.station, req.version):
            refusal = "operation_mode_unsupported"
        elif prefs is None or not prefs.opt_in:
            refusal = "user_not_opted_in"
        elif not window_allows(prefs.windows, req.now, self.tz):
            refusal = "outside_discharge_window"
        elif req.cycles_today >= prefs.max_cycles_per_day:
            refusal = "cycle_limit_reached"
        if refusal is not None:
            return StartRefused(refusal)
        assert prefs is not None
        assert cap is not None
        assert req.transaction_id is not None
        floor = max(prefs.min_soc_percent, req.min_soc_percent or Decimal(0))
        soc = req.soc_percent if req.soc_percent is not None else cap.state_of_charge
        below_v2x = cap.ev_min_v2x_energy_wh is not None and cap.ev_min_v2x_energy_wh > 0
        if (soc is not None and soc <= floor) or below_v2x:
            return StartRefused("soc_at_floor")
        if _below_departure_need(prefs.departure_energy_wh, soc, cap.battery_capacity_wh):
            return StartRefused("soc_at_floor")
        ends_at, ends_by = self._ends(prefs, req.now, req.duration_s)
        state = SessionState(
            session_id=req.session_id,
            station_id=req.station_id,
            evse_id=req.evse_id,
            transaction_id=req.transaction_id,
            user_id=req.user_id,
            version=req.version,
            state="starting",
            requested_w=req.power_w,
            user_max_w=prefs.max_discharge_w,
            ev_max_w=cap.max_discharge_w,
            ev_max_w_l2=cap.max_discharge_w_l2,
            ev_max_w_l3=cap.max_discharge_w_l3,
            ev_max_charge_w=cap.max_charge_w,
            ev_target_soc=cap.target_soc,
            battery_wh=cap.battery_capacity_wh,
            min_soc_percent=floor,
            departure_energy_wh=prefs.departure_energy_wh,
            requested_at=req.now,
            ends_at=ends_at,
            ends_by=ends_by,
            start_soc=soc,
            last_soc=soc,
        )
        if req.version is Version.V21 and not cap.bidirectional_requested:
            state = attrs.evolve(state, state="negotiating")
            allowed = {
                "transactionId": req.transaction_id,
                "allowedEnergyTransfer": list(ENERGY_TRANSFER_MODES),
            }
            return StartAccepted(
                state, (SendAllowedEnergyTransfer(allowed), Record("started", state))
            )
        state = attrs.evolve(state, setpoint_w=min(req.power_w, state.max_w))
        return StartAccepted(state, (self._profile(state, req.now), Record("started", state)))

    def _ends(
        self, prefs: V2GPreferences, now: dt.datetime, duration_s: int | None
    ) -> tuple[dt.datetime | None, Literal["window_end", "duration_elapsed"] | None]:
        window = window_end(prefs.windows, now, self.tz)
        duration = None if duration_s is None else now + dt.timedelta(seconds=duration_s)
        if duration is not None and (window is None or duration <= window):
            return duration, "duration_elapsed"
        return window, None if window is None else "window_end"

    def _profile(self, state: SessionState, now: dt.datetime) -> SendProfile:
        assert state.setpoint_w is not None
        remaining = None
        if state.ends_at is not None:
            remaining = max(int((state.ends_at - now).total_seconds()), 1)
        return SendProfile(
            discharge_profile(
                capability=state.capability(),
                transaction_id=state.transaction_id,
                discharge_w=state.setpoint_w,
                version=state.version,
                now=now,
                dynamic=self.dynamic,
                max_offline_s=self.max_offline_s,
                duration_s=remaining,
            )
        )

    # -- stepping ------------------------------------------------------------------------------

    def step(self, state: SessionState, event: Input) -> tuple[SessionState, list[Effect]]:
        """The next state and what to do; an ended session ignores everything."""
        if state.state in ("completed", "failed"):
            return state, []
        match event:
            case MeterReading():
                return self._reading(state, event)
            case Tick(at=at):
                return self._tick(state, at)
            case OperatorStop(at=at):
                return self._end(state, "operator_stop", at)
            case TransactionEnded(at=at):
                return self._end(state, "transaction_ended", at)
            case StationFault(at=at):
                return self._end(state, "station_fault", at)
            case StationDisconnected(at=at):
                return attrs.evolve(state, disconnected_at=state.disconnected_at or at), []
            case StationReconnected(at=at):
                return self._reconnected(state, at)
            case ProfileAnswer(at=at, accepted=accepted):
                return self._answer(state, at, accepted=accepted)
            case NeedsRenegotiated(at=at, capability=cap):
                return self._needs(state, at, cap)
            case ChangePower(at=at, power_w=power):
                return self._change(state, at, power)
        raise TypeError(f"not a session input: {event!r}")

    def _reading(self, state: SessionState, r: MeterReading) -> tuple[SessionState, list[Effect]]:
        changes: dict[str, Any] = {}
        if r.soc is not None:
            changes["last_soc"] = r.soc
            if state.start_soc is None:
                changes["start_soc"] = r.soc
        if r.export_wh is not None:
            changes["last_export_wh"] = r.export_wh
            if state.first_export_wh is None:
                changes["first_export_wh"] = r.export_wh
        if r.export_power_w is not None:
            changes["last_power_w"] = r.export_power_w
        ending: EndReason | None = None
        if r.soc is not None and r.soc <= state.min_soc_percent:
            ending = "soc_floor"
        elif _below_departure_need(state.departure_energy_wh, r.soc, state.battery_wh):
            ending = "departure_energy"
        elif not state.active or self._tick(state, r.at)[0] is not state:
            # ending by a tick, or not recorded: the reading alone (a tick changes no field
            # a reading sets, so it is judged on the state before it)
            return self._tick(attrs.evolve(state, **changes) if changes else state, r.at)
        if ending is not None:
            return self._end(attrs.evolve(state, **changes), ending, r.at)
        # one evolve a reading (each copies every field of the state): the record's time with
        # the values, decided before
        effects: list[Effect] = []
        if state.recorded_at is None or (
            (r.at - state.recorded_at).total_seconds() >= self.update_interval_s
        ):
            changes["recorded_at"] = r.at
            state = attrs.evolve(state, **changes)
            effects.append(Record("updated", state))
        elif changes:
            state = attrs.evolve(state, **changes)
        return state, effects

    def _tick(self, state: SessionState, at: dt.datetime) -> tuple[SessionState, list[Effect]]:
        if state.ends_at is not None and at >= state.ends_at and state.ends_by is not None:
            return self._end(state, state.ends_by, at)
        gone = state.disconnected_at
        if gone is not None and (at - gone).total_seconds() >= self.disconnect_grace_s:
            return self._end(state, "station_disconnected", at)
        waited = (at - state.requested_at).total_seconds()
        if state.state == "negotiating" and waited >= self.negotiation_timeout_s:
            return self._end(state, "negotiation_failed", at)
        return state, []

    def due(self, state: SessionState) -> dt.datetime | None:
        """When a ``Tick`` next changes ``state`` (its duration or window end, the disconnect
        grace, the renegotiation's timeout): before then a tick does nothing, so the session's
        timer wakes it then rather than every second. None: no tick will change it."""
        if not state.active:
            return None
        due = state.ends_at if state.ends_by is not None else None
        if state.disconnected_at is not None:
            grace = state.disconnected_at + dt.timedelta(seconds=self.disconnect_grace_s)
            due = grace if due is None else min(due, grace)
        if state.state == "negotiating":
            timeout = state.requested_at + dt.timedelta(seconds=self.negotiation_timeout_s)
            due = timeout if due is None else min(due, timeout)
        return due

    def _reconnected(
        self, state: SessionState, at: dt.datetime
    ) -> tuple[SessionState, list[Effect]]:
        state = attrs.evolve(state, disconnected_at=None)
        if state.state in ("starting", "discharging"):
            # Q11/Q12: the station may have dropped the profile after maxOfflineDuration, and
            # csms cannot tell when it noticed the outage: the profile goes out again.
            return state, [self._profile(state, at)]
        return state, []

    def _answer(
        self, state: SessionState, at: dt.datetime, *, accepted: bool
    ) -> tuple[SessionState, list[Effect]]:
        if not accepted:
            return self._end(state, "profile_rejected", at)
        if state.state != "starting":
            return state, []
        state = attrs.evolve(
            state, state="discharging", started_at=state.started_at or at, recorded_at=at
        )
        return state, [Record("updated", state)]

    def _needs(
        self, state: SessionState, at: dt.datetime, cap: EVCapability
    ) -> tuple[SessionState, list[Effect]]:
        if not cap.bidirectional_requested:
            # Q02.FR.07: the EV renegotiated without a bidirectional transfer.
            return self._end(state, "negotiation_failed", at)
        state = attrs.evolve(
            state,
            ev_max_w=cap.max_discharge_w,
            ev_max_w_l2=cap.max_discharge_w_l2,
            ev_max_w_l3=cap.max_discharge_w_l3,
            ev_max_charge_w=cap.max_charge_w or state.ev_max_charge_w,
        )
        wanted = state.requested_w if state.setpoint_w is None else state.setpoint_w
        state = attrs.evolve(
            state,
            state="starting" if state.state == "negotiating" else state.state,
            setpoint_w=min(wanted, state.max_w),
        )
        # K16.FR.12 / K17.FR.07: new needs are answered with a profile: this session's.
        return state, [self._profile(state, at)]

    def _change(
        self, state: SessionState, at: dt.datetime, power: Decimal
    ) -> tuple[SessionState, list[Effect]]:
        if power <= 0 or state.state not in ("starting", "discharging"):
            return state, []
        setpoint = min(power, state.max_w)
        state = attrs.evolve(state, requested_w=power, setpoint_w=setpoint)
        if state.version is Version.V21 and self.dynamic and state.state == "discharging":
            update = dynamic_schedule_update(
                evse_id=state.evse_id, setpoint_w=-setpoint, capability=state.capability()
            )
            return state, [SendSetpoint(update, -setpoint)]
        return state, [self._profile(state, at)]

    def _end(
        self, state: SessionState, reason: EndReason, at: dt.datetime
    ) -> tuple[SessionState, list[Effect]]:
        outcome: Literal["completed", "failed"] = (
            "failed" if reason in FAILED_REASONS else "completed"
        )
        restore = self._restore(state, reason, at)
        state = attrs.evolve(state, state=outcome, end_reason=reason, ended_at=at, setpoint_w=None)
        return state, [restore, Record("completed", state), End(reason, outcome)]

    def _restore(self, state: SessionState, reason: EndReason, at: dt.datetime) -> RestoreCharging:
        """A ChargingOnly profile where the EV still needs energy (below its target SoC, or
        no SoC known), else the discharge profile cleared; after the transaction, a clear."""
        target = state.ev_target_soc
        needs_energy = target is not None and (state.last_soc is None or state.last_soc < target)
        if reason == "transaction_ended" or not needs_energy:
            return RestoreCharging(clear=clear_profile_request(state.evse_id))
        limit = charge_limit_w(state.capability())
        return RestoreCharging(
            profile=charging_only_profile(
                evse_id=state.evse_id,
                transaction_id=state.transaction_id,
                limit_w=limit,
                version=state.version,
                now=at,
            )
        )

    def resume(
        self,
        state: SessionState,
        *,
        now: dt.datetime,
        station_connected: bool,
        transaction_active: bool,
    ) -> tuple[SessionState, list[Effect]]:
        """A stored session after a node restart: ended when its transaction is gone, or when
        it never got past ``requested``; otherwise the profile goes out again (what happened
        while no node watched is unknown, Q12), or the disconnect grace starts now."""
        if not state.active:
            return state, []
        if not transaction_active:
            return self._end(state, "transaction_ended", now)
        if state.state in ("requested", "stopping"):
            return self._end(state, "node_restart_lost", now)
        if not station_connected:
            return attrs.evolve(state, disconnected_at=state.disconnected_at or now), []
        return self._reconnected(state, now)
