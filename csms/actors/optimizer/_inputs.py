"""The optimizer's candidates as the planner reads them: the stored charging needs become the
EV's capability (``csms.services.v2x_capability``), and the EV can discharge when the station
can as the session's start checks it (2.1: a BPT mode and CentralSetpoint listed; 2.0.1: the
registration and the customData convention)."""

from __future__ import annotations

import logging
from decimal import Decimal

from csms.protocol import Version
from csms.services.v2g_optimizer import EVState
from csms.services.v2g_optimizer_run import Running
from csms.services.v2g_preferences import V2GPreferences
from csms.services.v2x_capability import EVCapability, StationV2XSupport, capability_from_needs
from csms.storage.optimizer_inputs import OptimizerCandidate, RunningSession

__all__ = ["ev_input", "running"]

log = logging.getLogger("csms.optimizer")


def _version(candidate: OptimizerCandidate) -> Version:
    known = candidate.ocpp_version in ("ocpp2.0.1", "ocpp2.1")
    return Version(candidate.ocpp_version) if known else Version.V21


def _capability(candidate: OptimizerCandidate, version: Version) -> EVCapability | None:
    if candidate.needs is None:
        return None
    try:
        return capability_from_needs(candidate.needs, version)
    except (TypeError, ValueError) as exc:
        log.warning("stored EV capability unreadable", extra={"error": repr(exc)})
        return None


def _capable(cap: EVCapability | None, candidate: OptimizerCandidate, version: Version) -> bool:
    if cap is None:
        return False
    station = StationV2XSupport(
        enabled=candidate.v2x_enabled,
        operation_modes=frozenset(candidate.operation_modes or ()),
        declared_bidirectional=candidate.declared_bidirectional,
    )
    if version is Version.V201:
        return (
            station.declared_bidirectional
            and cap.source == "custom_data"
            and (cap.bidirectional_requested)
        )
    # the session's start check: a 2.1 station must list the one mode csms commands
    return cap.bidirectional_available and (
        station.enabled is not False and station.supports("CentralSetpoint")
    )


def ev_input(candidate: OptimizerCandidate, *, own: str) -> tuple[EVState, V2GPreferences] | None:
    """The EV and its owner's preferences; None when the preferences cannot be read."""
    try:
        prefs = candidate.preferences.preferences
    except (ValueError, KeyError) as exc:  # stored by hand and unreadable: not planned
        log.warning("stored V2G preferences unreadable", extra={"error": repr(exc)})
        return None
    version = _version(candidate)
    cap = _capability(candidate, version)
    soc = candidate.soc_percent
    if soc is None and cap is not None:
        soc = cap.state_of_charge
    offered = None if cap is None or cap.ev_min_v2x_energy_wh is None else -cap.ev_min_v2x_energy_wh
    session = candidate.session
    state = EVState(
        station_id=candidate.station_id,
        evse_id=candidate.evse_id,
        user_id=prefs.user_id,
        soc_percent=soc,
        battery_wh=None if cap is None else cap.battery_capacity_wh,
        max_discharge_w=None if cap is None else cap.max_discharge_w,
        min_discharge_w=Decimal(0) if cap is None else cap.min_discharge_w or Decimal(0),
        v2x_energy_wh=offered,
        capable=_capable(cap, candidate, version),
        cycles_today=candidate.cycles_today,
        discharging=session is not None and session.requested_by == own,
        departure=None if cap is None else cap.departure_time,
    )
    return state, prefs


def running(session: RunningSession, *, own: str) -> Running:
    return Running(
        session_id=session.id,
        station_id=session.station_id,
        evse_id=session.evse_id,
        own=session.requested_by == own,
        power_w=session.target_power_w,
        state=session.state,
    )
