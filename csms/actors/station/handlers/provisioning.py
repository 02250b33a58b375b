"""Provisioning (B): boot, heartbeat, connector status, the device model reports."""

from __future__ import annotations

from typing import Any

from csms.domain.events import StationBooted, StationReport, StationStatus
from csms.domain.records import DeviceVariableRecord, EvseStatus, StationUpsert
from csms.domain.station import BootInfo
from csms.protocol import BootState
from csms.services import provisioning
from csms.storage import stations

from .. import _split
from .._context import StationContext
from ._registry import handles, text


@handles("BootNotification")
async def boot_notification(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """B01/B02/B03: the registration status decides; the interval is the heartbeat interval
    when Accepted and the retry interval otherwise (B02.FR.01, B03.FR.01).

    The first boot of a connection takes the status the station's row had when it connected
    (read moments ago for its credentials: one database read less per station in a reconnect
    storm); a later boot on the same connection reads it again (the operator may have changed
    it and asked the station to boot with TriggerMessage)."""
    now = st.services.now()
    stored = st.state.registration_at_connect
    if stored is None or st.state.boot is not None:
        row = await st.services.database.run(stations.get, st.station_id)
        stored = row.registration_status if row is not None else None
    status = provisioning.boot_registration_status(stored)
    cs = request.charging_station
    st.state.registration_status = status
    st.state.boot = BootInfo(
        vendor_name=cs.vendor_name,
        model=cs.model,
        serial_number=cs.serial_number,
        firmware_version=cs.firmware_version,
        reason=str(request.reason),
        at=now,
    )
    modem = cs.modem
    await st.services.submit(
        StationUpsert(
            station_id=st.station_id,
            at=now,
            ocpp_version=st.version.value,
            vendor_name=cs.vendor_name,
            model=cs.model,
            serial_number=cs.serial_number,
            firmware_version=cs.firmware_version,
            modem_iccid=modem.iccid if modem is not None else None,
            modem_imsi=modem.imsi if modem is not None else None,
            boot_reason=str(request.reason),
            create=False,
        )
    )
    st.services.events.publish(
        StationBooted(at=now, station_id=st.station_id, status=status, reason=str(request.reason))
    )
    msg = st.messages
    return msg.BootNotificationResponse(
        current_time=now,
        interval=st.services.heartbeat_interval,
        status=msg.RegistrationStatusEnum(status),
    )


@handles("Heartbeat")
async def heartbeat(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    now = st.services.now()
    st.state.last_heartbeat = now
    return st.messages.HeartbeatResponse(current_time=now)


@handles("StatusNotification")
async def status_notification(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    status = str(request.connector_status)
    st.state.set_connector(request.evse_id, request.connector_id, status)
    await st.services.submit(
        EvseStatus(st.station_id, request.evse_id, request.connector_id, status, request.timestamp)
    )
    st.services.events.publish(
        StationStatus(
            station_id=st.station_id,
            evse_id=request.evse_id,
            connector_id=request.connector_id,
            status=status,
        )
    )
    return st.messages.StatusNotificationResponse()


@handles("NotifyReport")
async def notify_report(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """B07/B08: the device model is stored, one row per variable attribute."""
    records: list[DeviceVariableRecord] = []
    now = st.services.now()
    for item in request.report_data or ():
        component, variable = item.component, item.variable
        evse = component.evse
        chars = item.variable_characteristics
        for attribute in item.variable_attribute:
            records.append(
                DeviceVariableRecord(
                    station_id=st.station_id,
                    component=component.name,
                    variable=variable.name,
                    at=now,
                    component_instance=component.instance,
                    evse_id=evse.id if evse is not None else None,
                    connector_id=evse.connector_id if evse is not None else None,
                    variable_instance=variable.instance,
                    attribute_type=text(attribute.type) or "Actual",
                    value=attribute.value,
                    mutability=text(attribute.mutability),
                    persistent=attribute.persistent,
                    constant=attribute.constant,
                    data_type=text(chars.data_type) if chars else None,
                    unit=chars.unit if chars else None,
                    min_limit=chars.min_limit if chars else None,
                    max_limit=chars.max_limit if chars else None,
                    values_list=chars.values_list if chars else None,
                )
            )
    if records:
        await st.services.submit(*records)
        _split.note_reported(st.limits, records)  # its message limits, for the commands after
    st.services.events.publish(
        StationReport(
            station_id=st.station_id,
            request_id=request.request_id,
            seq_no=request.seq_no,
            variables=len(records),
            more=bool(request.tbc),
        )
    )
    return st.messages.NotifyReportResponse()


def initial_boot_state(row: stations.StationRow | None) -> BootState:
    """A station accepted before that reconnects without rebooting sends no BootNotification,
    so its messages are accepted at once (B01, Part 4 reconnection)."""
    if row is None:
        return BootState.UNKNOWN
    return provisioning.initial_boot_state(row.registration_status, row.last_boot_at)
