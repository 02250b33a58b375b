"""Diagnostics (N), display messages (O), reservation (H), data transfer (P), and the other
notifications that go to the event stream: monitoring events, logs, customer information,
periodic event streams (2.1), battery swap (2.1)."""

from __future__ import annotations

from typing import Any

from csms.domain.events import (
    BatterySwap,
    CustomerInformation,
    DataTransferReceived,
    DisplayMessages,
    EventStreamClosed,
    EventStreamOpened,
    LogStatus,
    MonitoringReport,
    PeriodicEventStream,
    ReservationStatus,
    StationEvents,
)
from csms.domain.records import DeviceVariableRecord

from .._context import StationContext
from ._registry import acknowledge, handles

acknowledge(
    LogStatus,
    CustomerInformation,
    MonitoringReport,
    DisplayMessages,
    ReservationStatus,
    BatterySwap,
    EventStreamClosed,
)


@handles("NotifyEvent")
async def notify_event(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """N07: the reported actual values update the stored device model."""
    records = [
        DeviceVariableRecord(
            station_id=st.station_id,
            component=event.component.name,
            variable=event.variable.name,
            at=event.timestamp,
            component_instance=event.component.instance,
            evse_id=event.component.evse.id if event.component.evse else None,
            connector_id=event.component.evse.connector_id if event.component.evse else None,
            variable_instance=event.variable.instance,
            value=event.actual_value,
        )
        for event in request.event_data
    ]
    await st.services.submit(*records)
    st.services.events.publish(
        StationEvents(station_id=st.station_id, events=raw.get("eventData", ()))
    )
    return st.messages.NotifyEventResponse()


@handles("NotifyPeriodicEventStream")
async def periodic_event_stream(st: StationContext, request: Any, raw: dict[str, Any]) -> None:
    """A 2.1 SEND: recorded on the event stream, never answered."""
    st.services.events.publish(PeriodicEventStream(station_id=st.station_id, payload=raw))


@handles("OpenPeriodicEventStream")
async def open_event_stream(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    st.services.events.publish(EventStreamOpened(station_id=st.station_id, payload=raw))
    msg = st.messages
    return msg.OpenPeriodicEventStreamResponse(status=msg.GenericStatusEnum.ACCEPTED)


@handles("DataTransfer")
async def data_transfer(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """P01.FR.06: no vendor extension is registered, so every vendor id is unknown."""
    st.services.events.publish(DataTransferReceived(station_id=st.station_id, payload=raw))
    msg = st.messages
    return msg.DataTransferResponse(status=msg.DataTransferStatusEnum.UNKNOWN_VENDOR_ID)
