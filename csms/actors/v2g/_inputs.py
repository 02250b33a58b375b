"""From a station message to the inputs of a discharge session's policy (translation only):
which messages are worth handing to a session at all (``worth_routing``, asked before any
work), and what one says of its session (``session_inputs``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from csms.actors.station import StationMessage
from csms.protocol import Version
from csms.services import v2g_session as policy
from csms.services.v2x_capability import capability_from_needs

from ._readings import evse_faulted, readings, transaction_ended, transaction_of

__all__ = ["session_inputs", "worth_routing"]


def worth_routing(action: str, raw: Mapping[str, Any]) -> bool:
    """Whether a followed station message can say anything to any session: a TransactionEvent
    with meter values or its end, MeterValues, a Faulted StatusNotification, fresh needs. The
    others (most StatusNotifications, a TransactionEvent without a reading) wake no session."""
    if action == "TransactionEvent":
        return bool(raw.get("meterValue")) or transaction_ended(raw)
    if action == "StatusNotification":
        return raw.get("connectorStatus") == "Faulted"
    return True


def session_inputs(
    state: policy.SessionState, message: StationMessage, now: dt.datetime
) -> list[policy.Input]:
    """The policy's inputs in a station message that concerns this session."""
    raw, action = message.raw, message.action
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


def _meter_inputs(
    state: policy.SessionState, meter_values: Any, now: dt.datetime
) -> list[policy.Input]:
    # Taken at the sessions' clock, as its ticks are: a reading the station queued while
    # offline is judged when it arrives (its own timestamp may lie far back).
    return [
        policy.MeterReading(now, r.soc_percent, r.export_register_wh, r.export_power_w)
        for r in readings(state.station_id, state.evse_id, meter_values)
    ]
