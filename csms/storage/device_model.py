"""The device model stations report (NotifyReport, NotifyEvent): reads. Writes are
``DeviceVariableRecord`` records."""

from __future__ import annotations

from collections.abc import Iterable

from ._connect import Connection

__all__ = ["station_values"]


def station_values(
    conn: Connection, station_id: str, keys: Iterable[tuple[str, str, str | None]]
) -> dict[tuple[str, str, str | None], str | None]:
    """The Actual values of station-wide variables, by (component, variable, variable
    instance); a key the station never reported is absent, one reported without a value maps
    to None. Only components without an instance or an EVSE count."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT component, variable, variable_instance, value FROM device_variables"
        " WHERE station_id = %s AND attribute_type = 'Actual'"
        " AND component_instance IS NULL AND evse_id IS NULL AND connector_id IS NULL"
        " AND (component, variable, coalesce(variable_instance, ''))"
        "     IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))",
        (
            station_id,
            [c for c, _, _ in wanted],
            [v for _, v, _ in wanted],
            [i or "" for _, _, i in wanted],
        ),
    ).fetchall()
    return {(c, v, i): value for c, v, i, value in rows}
