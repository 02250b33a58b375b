"""What a discharge start is decided from, read in one database transaction: the EVSE's active
transaction and its user, the EV's capability, the station's V2X support, the user's
preferences and how many discharges they had today. The decision is the policy's
(``csms.services.v2g_session``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from csms.storage import Connection
from csms.storage.users import PreferencesRow, get_preferences
from csms.storage.v2g import CapabilityRow, get_capability
from csms.storage.v2g_sessions import EvseTransaction, cycles_since, evse_transaction
from csms.storage.v2x_support import StationSupportRow, declared_bidirectional, get_support

__all__ = ["StartFacts", "read_start_facts"]


@attrs.frozen
class StartFacts:
    #: The station's OCPP version as it last booted (``ocpp2.0.1``, ``ocpp2.1``), if known.
    version: str | None
    #: The active transaction on the EVSE asked for (or the station's newest), if any.
    transaction: EvseTransaction | None
    #: The newest capability known for that EVSE (``v2g_capabilities``), if any.
    capability: CapabilityRow | None
    #: The station's V2X support (2.1, ``v2x_station_support``), if read.
    support: StationSupportRow | None
    #: Registered as bidirectional (the 2.0.1 convention).
    declared_bidirectional: bool
    #: The preferences of the transaction's user, if it has one and they set them.
    preferences: PreferencesRow | None
    #: The user's discharge sessions since the start of the local day.
    cycles_today: int


def _station_version(conn: Connection, station_id: str) -> str | None:
    row = conn.execute("SELECT ocpp_version FROM stations WHERE id = %s", (station_id,)).fetchone()
    return None if row is None else row[0]


def _capability(rows: list[CapabilityRow], evse_id: int) -> CapabilityRow | None:
    # newest first (get_capability's order): the EV plugged in now
    for row in rows:
        if row.evse_id == evse_id:
            return row
    return None


def read_start_facts(
    conn: Connection, station_id: str, evse_id: int | None, day_start: dt.datetime
) -> StartFacts:
    transactions = evse_transaction(conn, station_id, evse_id)
    transaction = transactions[0] if transactions else None
    capability = preferences = None
    cycles = 0
    if transaction is not None:
        capability = _capability(get_capability(conn, station_id), transaction.evse_id)
        if transaction.user_id is not None:
            preferences = get_preferences(conn, transaction.user_id)
            cycles = cycles_since(conn, transaction.user_id, day_start)
    return StartFacts(
        version=_station_version(conn, station_id),
        transaction=transaction,
        capability=capability,
        support=get_support(conn, station_id),
        declared_bidirectional=declared_bidirectional(conn, station_id),
        preferences=preferences,
        cycles_today=cycles,
    )


def needs_request(capability: CapabilityRow | None) -> dict[str, Any] | None:
    """The NotifyEVChargingNeeds the capability was taken from (wire JSON), if stored."""
    if capability is None or not isinstance(capability.raw, dict):
        return None
    return capability.raw
