"""The profile that follows Accepted charging needs (K15.FR.07, K17.FR.07/19), with what the
station reported of its limits (``v2x_station_limits``)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

import psycopg

from csms.actors.database import Database
from csms.services.v2g_profiles import charging_profile_for_needs, discharge_profile
from csms.storage.v2g_sessions import list_sessions
from csms.storage.v2x_station_limits import NeedsLimits, needs_limits

from ._evse import EvseState

__all__ = ["needs_profile_request", "read_needs_limits", "session_discharge_w"]

log = logging.getLogger("csms.v2x")


async def read_needs_limits(database: Database, evse: EvseState) -> NeedsLimits:
    """The EVSE's reported maximum power and periods per schedule; none when unreadable (the
    profile must follow all the same: the EV's own limits then bound it)."""
    try:
        limits: NeedsLimits = await database.run(needs_limits, evse.station_id, evse.evse_id)
    except (psycopg.Error, OSError) as exc:
        log.warning(
            "station limits not read",
            extra={"station": evse.station_id, "error": type(exc).__name__},
        )
        return NeedsLimits()
    return limits


async def session_discharge_w(database: Database, evse: EvseState) -> Decimal | None:
    """The power (W, positive) of the discharge session running on the EVSE, if one has
    commanded the station (``starting`` or ``discharging``): fresh needs on that EVSE are
    answered with its discharge (K16.FR.12, K17.FR.07), whatever the station's version or the
    profile's kind. None when there is none, or the sessions cannot be read."""
    try:
        rows = await database.run(
            list_sessions, active=True, station_id=evse.station_id, user_id=None, limit=20
        )
    except (psycopg.Error, OSError) as exc:
        log.warning(
            "discharge sessions not read",
            extra={"station": evse.station_id, "error": type(exc).__name__},
        )
        return None
    for row in rows:
        if row.evse_id == evse.evse_id and row.state in ("starting", "discharging"):
            watts: Decimal | None = row.setpoint_w
            return watts if watts is not None and watts > 0 else None
    return None


def needs_profile_request(
    evse: EvseState,
    transaction_id: str,
    limits: NeedsLimits,
    *,
    setpoint: Decimal | None,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> dict[str, Any]:
    """The needs' profile: the energy needed spread to the departure, within the EV's and the
    EVSE's maximum and the periods both allow (``v2g_needs_schedule``); while a discharge
    session runs on the EVSE (``setpoint`` negative), its discharge at that setpoint, so that
    renegotiated needs (K16.FR.12, K17) do not end it (capped by the EV's new maximum)."""
    capability = evse.capability
    if setpoint is not None and setpoint < 0 and capability.bidirectional_requested:
        power = -setpoint
        if capability.max_discharge_w is not None:
            power = min(power, capability.max_discharge_w)
        return discharge_profile(
            capability=capability,
            transaction_id=transaction_id,
            discharge_w=power,
            version=evse.version,
            now=now,
        )
    return charging_profile_for_needs(
        capability=capability,
        transaction_id=transaction_id,
        version=evse.version,
        now=now,
        v2x=evse.v2x,
        station_max_w=limits.max_power_w,
        preferences=evse.preferences,
        tz=tz,
        station_periods=limits.periods_per_schedule,
    )
