"""Handlers for every message a charge point sends (SPEC section 4), for 2.0.1 and 2.1 alike.

A handler gets the station actor, the request (the generated class of the station's version) and
its wire JSON, and returns the response object. The 2.0.1 and 2.1 classes share field names, so
one handler serves both. Transaction data (TransactionEvent, MeterValues) is answered only after
it is committed; other records are handed to the persistence actor without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from csms.domain.metering import meter_rows, transaction_record
from csms.domain.records import (
    DeviceVariableRecord,
    EvseStatus,
    FirmwareStatusRecord,
    SecurityEventRecord,
    StationUpsert,
)
from csms.domain.station import BootInfo
from csms.protocol import BootState, Version, v21, v201
from csms.storage import stations

from . import _split

if TYPE_CHECKING:
    from ._actor import StationActor

log = logging.getLogger("csms.station")

Handler = Callable[["StationActor", Any, dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def message_module(version: Version) -> ModuleType:
    return v201 if version is Version.V201 else v21


def handles(*actions: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for action in actions:
            HANDLERS[action] = fn
        return fn

    return register


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- provisioning (B) ---------------------------------------------------------------------------


@handles("BootNotification")
async def boot_notification(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    """B01/B02/B03: the registration status decides; the interval is the heartbeat interval
    when Accepted and the retry interval otherwise (B02.FR.01, B03.FR.01)."""
    row = await st.services.reads.run(stations.get, st.station_id)
    status = row.registration_status if row is not None else "Rejected"
    now = st.services.now()
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
        "station.booted", station_id=st.station_id, status=status, reason=str(request.reason)
    )
    msg = st.messages
    return msg.BootNotificationResponse(
        current_time=now,
        interval=st.services.heartbeat_interval,
        status=msg.RegistrationStatusEnum(status),
    )


@handles("Heartbeat")
async def heartbeat(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    now = st.services.now()
    st.state.last_heartbeat = now
    return st.messages.HeartbeatResponse(current_time=now)


@handles("StatusNotification")
async def status_notification(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    status = str(request.connector_status)
    st.state.set_connector(request.evse_id, request.connector_id, status)
    await st.services.submit(
        EvseStatus(st.station_id, request.evse_id, request.connector_id, status, request.timestamp)
    )
    st.services.events.publish(
        "station.status",
        station_id=st.station_id,
        evse_id=request.evse_id,
        connector_id=request.connector_id,
        status=status,
    )
    return st.messages.StatusNotificationResponse()


@handles("NotifyReport")
async def notify_report(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
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
                    attribute_type=_text(attribute.type) or "Actual",
                    value=attribute.value,
                    mutability=_text(attribute.mutability),
                    persistent=attribute.persistent,
                    constant=attribute.constant,
                    data_type=_text(chars.data_type) if chars else None,
                    unit=chars.unit if chars else None,
                    min_limit=chars.min_limit if chars else None,
                    max_limit=chars.max_limit if chars else None,
                    values_list=chars.values_list if chars else None,
                )
            )
    if records:
        await st.services.submit(*records)
        _split.note_reported(st, records)  # its message limits, for the commands that follow
    st.services.events.publish(
        "station.report",
        station_id=st.station_id,
        request_id=request.request_id,
        seq_no=request.seq_no,
        variables=len(records),
        more=bool(request.tbc),
    )
    return st.messages.NotifyReportResponse()


# -- authorization (C) --------------------------------------------------------------------------


async def id_token_info(st: StationActor, id_token: Any) -> Any:
    """C01: status from the id_tokens table (through the node's cache, csms/actors/id_tokens.py);
    unknown tokens are Invalid, lapsed ones Expired."""
    msg = st.messages
    row = await st.services.id_tokens.get(id_token.id_token, str(id_token.type))
    if row is None:
        return msg.IdTokenInfo(status=msg.AuthorizationStatusEnum.INVALID)
    status = row.status
    if row.expires_at is not None and row.expires_at <= st.services.now():
        status = "Expired"
    if status == "Unknown":
        status = "Unknown" if st.version is Version.V21 else "Invalid"
    group = None
    if row.group_id:
        # 2.0.1 types the token type as an enum, 2.1 as a free string
        central = msg.IdTokenEnum.CENTRAL if st.version is Version.V201 else "Central"
        group = msg.IdToken(id_token=row.group_id, type=central)
    return msg.IdTokenInfo(
        status=msg.AuthorizationStatusEnum(status),
        cache_expiry_date_time=row.expires_at,
        group_id_token=group,
    )


@handles("Authorize")
async def authorize(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    info = await id_token_info(st, request.id_token)
    certificate_status = None
    hash_data = raw.get("iso15118CertificateHashData")
    if hash_data or request.certificate:
        certificate_status = await st.services.certificates.authorize_certificate(
            st.station_id, request.id_token, list(hash_data or [])
        )
    msg = st.messages
    return msg.AuthorizeResponse(
        id_token_info=info,
        certificate_status=(
            msg.AuthorizeCertificateStatusEnum(certificate_status) if certificate_status else None
        ),
    )


# -- transactions and metering (E, J) -----------------------------------------------------------


@handles("TransactionEvent")
async def transaction_event(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    """E01-E15: stored (with its meter values) before it is acknowledged; a retried event (same
    seqNo) is acknowledged again without a second row. The id token is authorized in the reply."""
    record = transaction_record(st.station_id, request, raw)
    await st.services.store(record)
    st.state.apply_transaction_event(record)
    st.services.events.publish(
        f"transaction.{record.event_type.lower()}",
        station_id=st.station_id,
        transaction_id=record.transaction_id,
        seq_no=record.seq_no,
        trigger_reason=record.trigger_reason,
        evse_id=record.evse_id,
        offline=record.offline,
    )
    info = await id_token_info(st, request.id_token) if request.id_token is not None else None
    return st.messages.TransactionEventResponse(id_token_info=info)


@handles("MeterValues")
async def meter_values(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    rows = meter_rows(st.station_id, request.evse_id, request.meter_value)
    await st.services.store(*rows)
    return st.messages.MeterValuesResponse()


# -- security, firmware, diagnostics (A, L, N) --------------------------------------------------


@handles("SecurityEventNotification")
async def security_event(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    await st.services.submit(
        SecurityEventRecord(st.station_id, request.type, request.timestamp, request.tech_info)
    )
    st.services.events.publish("security.event", station_id=st.station_id, type=request.type)
    return st.messages.SecurityEventNotificationResponse()


@handles("FirmwareStatusNotification")
async def firmware_status(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    status = str(request.status)
    if request.request_id is not None:
        await st.services.submit(
            FirmwareStatusRecord(st.station_id, request.request_id, status, st.services.now())
        )
    st.services.events.publish(
        "firmware.status", station_id=st.station_id, request_id=request.request_id, status=status
    )
    return st.messages.FirmwareStatusNotificationResponse()


@handles("NotifyEvent")
async def notify_event(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
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
        "station.event", station_id=st.station_id, events=raw.get("eventData", [])
    )
    return st.messages.NotifyEventResponse()


def _acknowledge(action: str, subject: str) -> Handler:
    """Messages stored on the event stream and acknowledged with an empty response."""

    async def handler(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
        st.services.events.publish(subject, station_id=st.station_id, payload=raw)
        return st.response_message(action)

    handler.__name__ = f"acknowledge_{action}"
    return handler


for _action, _subject in {
    "LogStatusNotification": "station.log_status",
    "PublishFirmwareStatusNotification": "firmware.publish_status",
    "ReportChargingProfiles": "charging.profiles_reported",
    "NotifyChargingLimit": "charging.limit",
    "ClearedChargingLimit": "charging.limit_cleared",
    "ReservationStatusUpdate": "reservation.status",
    "NotifyCustomerInformation": "station.customer_information",
    "NotifyMonitoringReport": "station.monitoring_report",
    "NotifyDisplayMessages": "station.display_messages",
    "NotifyDERAlarm": "der.alarm",
    "NotifyDERStartStop": "der.start_stop",
    "ReportDERControl": "der.control_reported",
    "NotifyPriorityCharging": "charging.priority",
    "NotifySettlement": "payment.settlement",
    "BatterySwap": "station.battery_swap",
    "ClosePeriodicEventStream": "station.event_stream_closed",
}.items():
    HANDLERS[_action] = _acknowledge(_action, _subject)


@handles("NotifyPeriodicEventStream")
async def periodic_event_stream(st: StationActor, request: Any, raw: dict[str, Any]) -> None:
    """A 2.1 SEND: recorded on the event stream, never answered."""
    st.services.events.publish("station.event_stream", station_id=st.station_id, payload=raw)


# -- smart charging and V2X (K, Q) --------------------------------------------------------------


@handles("NotifyEVChargingNeeds")
async def ev_charging_needs(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    """K15: accepted and handed to the smart-charging / V2G hooks (``services.hooks``)."""
    st.services.events.publish("charging.needs", station_id=st.station_id, payload=raw)
    msg = st.messages
    return msg.NotifyEVChargingNeedsResponse(status=msg.NotifyEVChargingNeedsStatusEnum.ACCEPTED)


@handles("NotifyEVChargingSchedule")
async def ev_charging_schedule(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    st.services.events.publish("charging.ev_schedule", station_id=st.station_id, payload=raw)
    msg = st.messages
    return msg.NotifyEVChargingScheduleResponse(status=msg.GenericStatusEnum.ACCEPTED)


@handles("PullDynamicScheduleUpdate")
async def pull_dynamic_schedule(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.PullDynamicScheduleUpdateResponse(status=msg.ChargingProfileStatusEnum.REJECTED)


@handles("OpenPeriodicEventStream")
async def open_event_stream(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    st.services.events.publish("station.event_stream_opened", station_id=st.station_id)
    msg = st.messages
    return msg.OpenPeriodicEventStreamResponse(status=msg.GenericStatusEnum.ACCEPTED)


# -- ISO 15118 certificates (M) and data transfer (P) ---------------------------------------------
# Until Plug & Charge is configured these answer "Failed"/"Rejected", which tells the station that
# the CSMS cannot provide the certificate service (M02, M05, M06, A02).


@handles("Get15118EVCertificate")
async def get_15118_ev_certificate(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.Get15118EVCertificateResponse(
        status=msg.Iso15118EVCertificateStatusEnum.FAILED, exi_response=""
    )


@handles("GetCertificateStatus")
async def get_certificate_status(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.GetCertificateStatusResponse(status=msg.GetCertificateStatusEnum.FAILED)


@handles("GetCertificateChainStatus")
async def get_certificate_chain_status(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    return st.messages.GetCertificateChainStatusResponse(certificate_status=())


@handles("SignCertificate")
async def sign_certificate(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.SignCertificateResponse(status=msg.GenericStatusEnum.REJECTED)


@handles("DataTransfer")
async def data_transfer(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    """P01.FR.06: no vendor extension is registered, so every vendor id is unknown."""
    st.services.events.publish("station.data_transfer", station_id=st.station_id, payload=raw)
    msg = st.messages
    return msg.DataTransferResponse(status=msg.DataTransferStatusEnum.UNKNOWN_VENDOR_ID)


@handles("VatNumberValidation")
async def vat_number_validation(st: StationActor, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.VatNumberValidationResponse(
        vat_number=request.vat_number, status=msg.GenericStatusEnum.REJECTED
    )


def initial_boot_state(row: stations.StationRow | None) -> BootState:
    """A station accepted before that reconnects without rebooting sends no BootNotification,
    so its messages are accepted at once (B01, Part 4 reconnection)."""
    if row is not None and row.registration_status == "Accepted" and row.last_boot_at is not None:
        return BootState.ACCEPTED
    return BootState.UNKNOWN


#: Every action a station actor answers; one set shared by all connections.
SUPPORTED_ACTIONS = frozenset(HANDLERS)
