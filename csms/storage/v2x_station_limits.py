"""What a station's reported device model (NotifyReport, ``device_variables``) says about the
schedule csms may send an EVSE for an EV's charging needs (K15.FR.07): the EVSE's maximum
power (``EVSE.Power`` maxLimit, required by the device model) and
``SmartChargingCtrlr.PeriodsPerSchedule``. Either is None when the station never reported it."""

from __future__ import annotations

from decimal import Decimal

import attrs

from ._connect import Connection

__all__ = ["NeedsLimits", "needs_limits"]

_KILO = Decimal(1000)


@attrs.frozen
class NeedsLimits:
    #: The EVSE's maximum power, W.
    max_power_w: Decimal | None = None
    periods_per_schedule: int | None = None


def needs_limits(conn: Connection, station_id: str, evse_id: int) -> NeedsLimits:
    power = conn.execute(
        "SELECT max_limit, unit FROM device_variables WHERE station_id = %s"
        " AND component = 'EVSE' AND evse_id = %s AND connector_id IS NULL"
        " AND variable = 'Power' AND max_limit IS NOT NULL"
        " ORDER BY attribute_type = 'Actual' DESC LIMIT 1",
        (station_id, evse_id),
    ).fetchone()
    periods = conn.execute(
        "SELECT value FROM device_variables WHERE station_id = %s"
        " AND component = 'SmartChargingCtrlr' AND variable = 'PeriodsPerSchedule'"
        " AND evse_id IS NULL AND attribute_type = 'Actual'",
        (station_id,),
    ).fetchone()
    max_w = None
    if power is not None and power[0] > 0:
        # the device model allows W or kW for EVSE.Power
        max_w = Decimal(power[0]) * (_KILO if (power[1] or "").lower() == "kw" else 1)
    count = periods[0] if periods is not None else None
    return NeedsLimits(
        max_power_w=max_w,
        periods_per_schedule=int(count) if count is not None and count.strip().isdigit() else None,
    )
