"""A discharge start: the facts read from the database, put to the policy
(``SessionPolicy.start``), and the session row that results; and the row a policy state is
stored as. Translation only: the decision is the policy's."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from csms.actors.database import Database
from csms.protocol import Version
from csms.services.v2g_preferences import V2GPreferences, local_day_bounds
from csms.services.v2g_profiles import tx_profile_id
from csms.services.v2g_session import (
    SessionPolicy,
    SessionState,
    StartAccepted,
    StartRefused,
    StartRequest,
    state_to_json,
)
from csms.services.v2x_capability import EVCapability, StationV2XSupport, capability_from_needs
from csms.storage.v2g_sessions import NewSession

from ._facts import StartFacts, needs_request, read_start_facts
from ._messages import DischargeRefused, SessionOptions, StartDischarge
from ._record import exported_wh

__all__ = ["plan_start", "row_of"]

log = logging.getLogger("csms.v2g")


def _capability(facts: StartFacts, version: Version) -> EVCapability | None:
    raw = needs_request(facts.capability)
    if raw is None:
        return None
    try:
        return capability_from_needs(raw, version)
    except (TypeError, ValueError) as exc:
        log.warning("stored EV capability unreadable", extra={"error": repr(exc)})
        return None


def _support(facts: StartFacts) -> StationV2XSupport:
    row = facts.support
    return StationV2XSupport(
        enabled=None if row is None else row.enabled,
        operation_modes=frozenset(
            () if row is None or row.operation_modes is None else row.operation_modes
        ),
        declared_bidirectional=facts.declared_bidirectional,
    )


def _preferences(facts: StartFacts) -> V2GPreferences | None:
    if facts.preferences is None:
        return None
    try:
        return facts.preferences.preferences
    except (ValueError, KeyError) as exc:  # stored by hand and unreadable: not opted in
        log.warning("stored V2G preferences unreadable", extra={"error": repr(exc)})
        return None


async def plan_start(
    database: Database, policy: SessionPolicy, options: SessionOptions, start: StartDischarge
) -> tuple[NewSession, StartAccepted]:
    """The session to create and its first effects; ``DischargeRefused`` with the policy's
    code."""
    now = options.clock()
    day_start, _ = local_day_bounds(now, policy.tz)
    facts = await database.run(read_start_facts, start.station_id, start.evse_id, day_start)
    version = Version(facts.version) if facts.version in ("ocpp2.0.1", "ocpp2.1") else Version.V21
    tx = facts.transaction
    request = StartRequest(
        session_id=str(uuid.uuid4()),
        station_id=start.station_id,
        evse_id=tx.evse_id if tx is not None else (start.evse_id or 1),
        transaction_id=None if tx is None else tx.transaction_id,
        user_id=None if tx is None else tx.user_id,
        version=version,
        station=_support(facts),
        capability=_capability(facts, version),
        preferences=_preferences(facts),
        power_w=start.power_w,
        now=now,
        duration_s=start.duration_s,
        min_soc_percent=start.min_soc_percent,
        soc_percent=None if tx is None else tx.soc_percent,
        cycles_today=facts.cycles_today,
    )
    decision = policy.start(request)
    if isinstance(decision, StartRefused):
        raise DischargeRefused(decision.code, _REFUSALS.get(decision.code, decision.code))
    state = decision.state
    new = NewSession(
        id=uuid.UUID(state.session_id),
        station_id=state.station_id,
        evse_id=state.evse_id,
        requested_by=start.requested_by,
        target_power_w=state.requested_w,
        min_soc_percent=state.min_soc_percent,
        ocpp_version=state.version.value,
        state=state.state,
        transaction_id=state.transaction_id,
        user_id=state.user_id,
        ev_id=None if facts.capability is None else facts.capability.ev_id or None,
        start_soc_percent=state.start_soc,
        window_end_at=state.ends_at,
        operation_mode=_operation_mode(state),
        profile_kind=_profile_kind(state, policy),
        profile_id=tx_profile_id(state.evse_id),
        setpoint_w=state.setpoint_w,
        policy_state=state_to_json(state),
    )
    return new, decision


def _operation_mode(state: SessionState) -> str | None:
    return "CentralSetpoint" if state.version is Version.V21 else None


def _profile_kind(state: SessionState, policy: SessionPolicy) -> str:
    return "Dynamic" if state.version is Version.V21 and policy.dynamic else "Absolute"


def row_of(state: SessionState) -> dict[str, Any]:
    """The session's columns for ``state`` (``v2g_sessions.save``)."""
    return {
        "state": state.state,
        "transaction_id": state.transaction_id,
        "start_soc_percent": state.start_soc,
        "soc_percent": state.last_soc,
        "energy_exported_wh": exported_wh(state),
        "window_end_at": state.ends_at,
        "started_at": state.started_at,
        "ended_at": state.ended_at,
        "end_reason": state.end_reason,
        "target_power_w": state.requested_w,
        "setpoint_w": state.setpoint_w,
        "last_power_w": state.last_power_w,
        "export_first_wh": state.first_export_wh,
        "export_last_wh": state.last_export_wh,
        "policy_state": state_to_json(state),
    }


_REFUSALS = {
    "ev_not_bidirectional": "the EV announced no bidirectional energy transfer",
    "user_not_opted_in": "the EV's owner has not opted in to V2G",
    "soc_at_floor": "the EV's state of charge is at or below its floor",
    "no_active_transaction": "no active transaction on that EVSE",
    "operation_mode_unsupported": "the station does not support discharging (CentralSetpoint)",
    "outside_discharge_window": "outside the owner's discharge windows",
    "session_active": "that EVSE already has an active discharge session",
    "station_not_connected": "the station is not connected",
    "cycle_limit_reached": "the owner's discharge cycles for today are used up",
}
