"""Smart charging (K): the EV's charging needs and schedule, profiles and limits reported."""

from __future__ import annotations

from typing import Any

from csms.domain.events import (
    ChargingLimit,
    ChargingLimitCleared,
    ChargingProfilesReported,
    EVChargingNeeds,
    EVChargingSchedule,
    PriorityCharging,
)

from .._context import StationContext
from ._registry import acknowledge, handles

acknowledge(ChargingProfilesReported, ChargingLimit, ChargingLimitCleared, PriorityCharging)


@handles("NotifyEVChargingNeeds")
async def ev_charging_needs(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """K15: accepted, unless the route of the smart-charging / V2G owner answers otherwise."""
    st.services.events.publish(EVChargingNeeds(station_id=st.station_id, payload=raw))
    msg = st.messages
    return msg.NotifyEVChargingNeedsResponse(status=msg.NotifyEVChargingNeedsStatusEnum.ACCEPTED)


@handles("NotifyEVChargingSchedule")
async def ev_charging_schedule(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    st.services.events.publish(EVChargingSchedule(station_id=st.station_id, payload=raw))
    msg = st.messages
    return msg.NotifyEVChargingScheduleResponse(status=msg.GenericStatusEnum.ACCEPTED)


@handles("PullDynamicScheduleUpdate")
async def pull_dynamic_schedule(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.PullDynamicScheduleUpdateResponse(status=msg.ChargingProfileStatusEnum.REJECTED)
