"""What the V2G optimizer plans from, read in one transaction: every active transaction on an
EVSE whose id token belongs to an opted-in user, with the EV's last SoC, its newest capability
(the NotifyEVChargingNeeds it came from), the station's V2X support and OCPP version, the
owner's preferences, their discharge sessions started today and the EVSE's active session; and
the optimizer's own active sessions (to stop those whose EV is no longer planned)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs

from ._connect import Connection
from .users import PreferencesRow

__all__ = ["OptimizerCandidate", "OptimizerInputs", "RunningSession", "read_optimizer_inputs"]

_ACTIVE = "('requested', 'negotiating', 'starting', 'discharging', 'stopping')"


@attrs.frozen
class RunningSession:
    """An active discharge session on an EVSE."""

    id: uuid.UUID
    station_id: str
    evse_id: int
    requested_by: str
    state: str
    #: The power asked for (positive), W.
    target_power_w: Decimal


@attrs.frozen
class OptimizerCandidate:
    station_id: str
    evse_id: int
    transaction_id: str
    #: ``ocpp2.0.1`` or ``ocpp2.1`` as the station last booted; None if unknown.
    ocpp_version: str | None
    #: Registered as bidirectional (the 2.0.1 convention).
    declared_bidirectional: bool
    #: ``V2XChargingCtrlr.Enabled`` / ``SupportedOperationModes``; None while not read.
    v2x_enabled: bool | None
    operation_modes: list[str] | None
    #: The EV's last SoC in the transaction, %.
    soc_percent: Decimal | None
    #: The NotifyEVChargingNeeds of the newest capability on the EVSE (wire JSON), if any.
    needs: dict[str, Any] | None
    preferences: PreferencesRow
    #: The user's discharge sessions started since the start of the local day.
    cycles_today: int
    #: The EVSE's active session, if any.
    session: RunningSession | None


@attrs.frozen
class OptimizerInputs:
    candidates: list[OptimizerCandidate]
    #: Active sessions ``requested_by`` the optimizer (whatever their EV's state now).
    own_sessions: list[RunningSession]


_PREFS = ", ".join(f"p.{a.name}" for a in attrs.fields(PreferencesRow))
_SESSION = "id, station_id, evse_id, requested_by, state, target_power_w"

_CANDIDATES = f"""
SELECT t.station_id, t.evse_id, t.transaction_id, s.ocpp_version, s.bidirectional,
       sup.enabled, sup.operation_modes,
       CASE WHEN soc.value IS NULL OR last.soc_percent IS NULL
            THEN coalesce(soc.value, last.soc_percent)
            ELSE least(soc.value, last.soc_percent) END,
       cap.raw, cyc.n, {_PREFS},
       run.id, run.requested_by, run.state, run.target_power_w
FROM transactions t
JOIN stations s ON s.id = t.station_id
JOIN LATERAL (
    SELECT i.user_id FROM id_tokens i
    WHERE lower(i.id_token) = lower(t.id_token) AND i.user_id IS NOT NULL
    ORDER BY (i.type = t.id_token_type) DESC LIMIT 1
) owner ON true
JOIN v2g_preferences p ON p.user_id = owner.user_id AND p.opted_in
LEFT JOIN v2x_station_support sup ON sup.station_id = t.station_id
LEFT JOIN LATERAL (
    SELECT m.value FROM meter_values m
    WHERE m.station_id = t.station_id AND m.transaction_id = t.transaction_id
      AND m.measurand = 'SoC' AND m.timestamp >= t.started_at
    ORDER BY m.timestamp DESC LIMIT 1
) soc ON true
LEFT JOIN LATERAL (
    -- a session's last SoC may be newer than what the writer has stored of the meter values:
    -- the lower of the two keeps the floor
    SELECT v.soc_percent FROM v2g_sessions v
    WHERE v.station_id = t.station_id AND v.transaction_id = t.transaction_id
      AND v.soc_percent IS NOT NULL
    ORDER BY v.updated_at DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT c.raw FROM v2g_capabilities c
    WHERE c.station_id = t.station_id AND c.evse_id = t.evse_id
    ORDER BY c.updated_at DESC LIMIT 1
) cap ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS n FROM v2g_sessions v
    WHERE v.user_id = owner.user_id AND v.created_at >= %(day_start)s
      AND v.started_at IS NOT NULL
) cyc ON true
LEFT JOIN LATERAL (
    SELECT v.id, v.requested_by, v.state, v.target_power_w FROM v2g_sessions v
    WHERE v.station_id = t.station_id AND v.evse_id = t.evse_id AND v.state IN {_ACTIVE}
    LIMIT 1
) run ON true
WHERE t.state = 'Active' AND t.evse_id IS NOT NULL
  AND (%(station_id)s::text IS NULL OR t.station_id = %(station_id)s)
ORDER BY t.station_id, t.evse_id, t.started_at DESC
"""

_PREF_COUNT = len(attrs.fields(PreferencesRow))


def _candidate(row: tuple[Any, ...]) -> OptimizerCandidate:
    station_id, evse_id, tx, version, declared, enabled, modes, soc, raw, cycles = row[:10]
    prefs = PreferencesRow(*row[10 : 10 + _PREF_COUNT])
    run_id, requested_by, state, power = row[10 + _PREF_COUNT :]
    session = (
        None
        if run_id is None
        else RunningSession(run_id, station_id, evse_id, requested_by, state, power)
    )
    return OptimizerCandidate(
        station_id=station_id,
        evse_id=evse_id,
        transaction_id=tx,
        ocpp_version=version,
        declared_bidirectional=bool(declared),
        v2x_enabled=enabled,
        operation_modes=modes,
        soc_percent=soc,
        needs=raw if isinstance(raw, dict) else None,
        preferences=prefs,
        cycles_today=int(cycles),
        session=session,
    )


def read_optimizer_inputs(
    conn: Connection,
    *,
    day_start: dt.datetime,
    requested_by: str,
    station_id: str | None = None,
) -> OptimizerInputs:
    """The candidates (one per EVSE: its newest active transaction) and the active sessions
    ``requested_by`` the optimizer, of ``station_id`` when given; ``day_start`` is the start of
    the operator-local day (UTC) that cycles are counted from."""
    rows = conn.execute(_CANDIDATES, {"day_start": day_start, "station_id": station_id}).fetchall()
    seen: set[tuple[str, int]] = set()
    candidates = []
    for row in rows:
        if (row[0], row[1]) not in seen:  # one EV per EVSE: the newest transaction
            seen.add((row[0], row[1]))
            candidates.append(_candidate(row))
    own = conn.execute(
        f"SELECT {_SESSION} FROM v2g_sessions WHERE state IN {_ACTIVE} AND requested_by = %s"
        " AND (%s::text IS NULL OR station_id = %s) ORDER BY station_id, evse_id",
        (requested_by, station_id, station_id),
    ).fetchall()
    return OptimizerInputs(candidates, [RunningSession(*r) for r in own])
