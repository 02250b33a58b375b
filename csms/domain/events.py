"""The event catalog: every event the node's bus carries, one frozen class each (SPEC section 8).

An event's class is its contract. Its ``subject`` (``"station.connected"``) is a class attribute,
so subscribers filter by subject prefix as they always did; its ``schema`` version is bumped on an
incompatible change of that subject's body; its fields are the body. Every event carries ``at``
(when it happened, UTC), ``node_id`` (the node that published it; the bus stamps it, see
``csms/actors/events.py``) and the correlation ids that apply: ``command_id`` for commands,
``transaction_id`` for transactions, ``session_id`` for V2G sessions, ``job_id`` and
``request_id`` for firmware jobs. ``station_id`` stays a field (the NATS mirror will put it in
the subject it publishes on).

``to_json()`` gives the JSON body the mirror and the dashboard consume::

    {"schema": 1, "subject": "station.booted", "at": "2025-01-01T12:00:00+00:00",
     "nodeId": "node-1", "stationId": "CP001", "status": "Accepted", "reason": "PowerUp"}

Keys are camelCase, once and for all: the REST API (``/api/v1``) and OCPP itself speak camelCase,
so a dashboard reads the same name for the same thing in a REST answer, an event and a station's
message. Every key is present (``null`` when there is no value); times are ISO 8601 with their
offset. :func:`from_json` reads a body back into its class.

``docs/EVENTS.md`` is generated from this module (``python scripts/gen_events_doc.py``): each
field's ``doc`` metadata is its documentation there, so a field without one is an error.

Events whose owners do not exist yet (V2G discharge sessions, firmware jobs: SPEC sections 6 and 7)
are defined here already, with the fields those owners will carry, so the subjects the SPEC
promises have one shape from the start.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args, get_origin

import attrs

__all__ = [
    "BY_SUBJECT",
    "CATALOG",
    "STATION_MESSAGES",
    "TRANSACTION_EVENTS",
    "BatterySwap",
    "CertificateDeleted",
    "CertificateInstalled",
    "CertificateRejected",
    "CertificateSigned",
    "ChargingLimit",
    "ChargingLimitCleared",
    "ChargingProfilesReported",
    "CommandAbandoned",
    "CommandResponse",
    "CommandSent",
    "CommandTimeout",
    "CustomerInformation",
    "DERAlarm",
    "DERControlReported",
    "DERStartStop",
    "DataTransferReceived",
    "DisplayMessages",
    "EVChargingNeeds",
    "EVChargingSchedule",
    "Event",
    "EventStreamClosed",
    "EventStreamOpened",
    "FirmwareCampaignEvent",
    "FirmwareCampaignProgress",
    "FirmwareCampaignState",
    "FirmwarePublishStatus",
    "FirmwareStatus",
    "FirmwareUpdateCompleted",
    "FirmwareUpdateFailed",
    "FirmwareUpdateProgress",
    "FirmwareUpdateStarted",
    "GridPricesRefreshed",
    "LogStatus",
    "MonitoringReport",
    "PeriodicEventStream",
    "PriorityCharging",
    "ReservationStatus",
    "SecurityEvent",
    "Settlement",
    "StationBooted",
    "StationConnected",
    "StationDisconnected",
    "StationEvents",
    "StationMessage",
    "StationReport",
    "StationStatus",
    "TransactionChanged",
    "TransactionEnded",
    "TransactionStarted",
    "TransactionUpdated",
    "V2GCompensationRecorded",
    "V2GPayoutFailed",
    "V2GPayoutPaid",
    "V2GSessionCompleted",
    "V2GSessionStarted",
    "V2GSessionUpdated",
    "camel",
    "from_json",
]


def doc(text: str, **kwargs: Any) -> Any:
    """An attrs field documented by ``text`` (rendered in docs/EVENTS.md)."""
    return attrs.field(metadata={"doc": text}, **kwargs)


def camel(name: str) -> str:
    """``station_id`` -> ``stationId``: the JSON key of a field."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Event:
    """What every event carries. Not published itself: each subject is a subclass."""

    #: The subject subscribers filter on (``a.b`` or ``a.b.c``, lowercase).
    subject: ClassVar[str]
    #: Version of this subject's body; bumped on an incompatible change.
    schema: ClassVar[int] = 1

    at: dt.datetime = doc("When it happened (UTC).", factory=_utc_now)
    node_id: str = doc("The node that published it (stamped by the node's bus).", default="")

    def to_json(self) -> dict[str, Any]:
        """The JSON body: ``schema``, ``subject``, then every field under its camelCase key."""
        body: dict[str, Any] = {"schema": self.schema, "subject": self.subject}
        for name, key in _json_keys(type(self)):
            body[key] = _encode(getattr(self, name))
        return body


# -- stations --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StationConnected(Event):
    """A station connected (its WebSocket was accepted and its actor started on this node)."""

    subject: ClassVar[str] = "station.connected"

    station_id: str = doc("The station's identity (its id in the OCPP URL).")
    version: str = doc("The OCPP subprotocol of the connection: ocpp2.0.1 or ocpp2.1.")


@attrs.frozen(kw_only=True)
class StationDisconnected(Event):
    """A station's connection ended (its actor stopped)."""

    subject: ClassVar[str] = "station.disconnected"

    station_id: str = doc("The station's identity.")


@attrs.frozen(kw_only=True)
class StationBooted(Event):
    """A BootNotification was answered (B01-B03)."""

    subject: ClassVar[str] = "station.booted"

    station_id: str = doc("The station's identity.")
    status: str = doc("The registration status the CSMS answered: Accepted, Pending, Rejected.")
    reason: str = doc("The boot reason the station gave (BootReasonEnumType), e.g. PowerUp.")


@attrs.frozen(kw_only=True)
class StationStatus(Event):
    """A StatusNotification: a connector's status changed (G01)."""

    subject: ClassVar[str] = "station.status"

    station_id: str = doc("The station's identity.")
    evse_id: int = doc("The EVSE.")
    connector_id: int = doc("The connector of that EVSE.")
    status: str = doc(
        "The connector status (ConnectorStatusEnumType): Available, Occupied, Reserved, "
        "Unavailable, Faulted."
    )


@attrs.frozen(kw_only=True)
class StationReport(Event):
    """One NotifyReport part was stored (B07/B08: the device model)."""

    subject: ClassVar[str] = "station.report"

    station_id: str = doc("The station's identity.")
    request_id: int = doc("The requestId of the GetBaseReport / GetReport this part answers.")
    seq_no: int = doc("The part's sequence number.")
    variables: int = doc("How many variable attributes the part held (and were stored).")
    more: bool = doc("Whether more parts follow (the station's tbc).")


@attrs.frozen(kw_only=True)
class StationEvents(Event):
    """A NotifyEvent (N07): the reported values also update the stored device model."""

    subject: ClassVar[str] = "station.event"

    station_id: str = doc("The station's identity.")
    events: tuple[Mapping[str, Any], ...] = doc(
        "The eventData entries as the station sent them (camelCase, as on the wire).",
        converter=_tuple,
    )


@attrs.frozen(kw_only=True)
class SecurityEvent(Event):
    """A SecurityEventNotification (A04), stored in security_events."""

    subject: ClassVar[str] = "security.event"

    station_id: str = doc("The station's identity.")
    type: str = doc(
        "The security event type, e.g. FirmwareUpdated, InvalidCentralSystemCertificate."
    )


@attrs.frozen(kw_only=True)
class FirmwareStatus(Event):
    """A FirmwareStatusNotification as the station sent it (L01/L02). The firmware job that owns
    its requestId reports the job's view as ``firmware.update.*``."""

    subject: ClassVar[str] = "firmware.status"

    station_id: str = doc("The station's identity.")
    request_id: int | None = doc("The requestId of the UpdateFirmware it reports on, if any.")
    status: str = doc("The firmware status (FirmwareStatusEnumType), e.g. Downloading, Installed.")


# -- transactions ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TransactionChanged(Event):
    """A TransactionEvent was stored (E01-E15); one subject per event type."""

    station_id: str = doc("The station's identity.")
    transaction_id: str = doc("The station's transactionId.")
    seq_no: int = doc("The TransactionEvent's seqNo.")
    trigger_reason: str = doc("Why the station sent it (TriggerReasonEnumType).")
    evse_id: int | None = doc("The EVSE, when the station named it.")
    offline: bool = doc("Whether the event happened while the station was offline.")


@attrs.frozen(kw_only=True)
class TransactionStarted(TransactionChanged):
    """A TransactionEvent Started was stored."""

    subject: ClassVar[str] = "transaction.started"


@attrs.frozen(kw_only=True)
class TransactionUpdated(TransactionChanged):
    """A TransactionEvent Updated was stored."""

    subject: ClassVar[str] = "transaction.updated"


@attrs.frozen(kw_only=True)
class TransactionEnded(TransactionChanged):
    """A TransactionEvent Ended was stored."""

    subject: ClassVar[str] = "transaction.ended"


#: TransactionEvent's eventType -> its event class.
TRANSACTION_EVENTS: Mapping[str, type[TransactionChanged]] = {
    "Started": TransactionStarted,
    "Updated": TransactionUpdated,
    "Ended": TransactionEnded,
}


# -- commands --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CommandSent(Event):
    """A command (a CSMS-initiated OCPP call) went out to a station."""

    subject: ClassVar[str] = "ocpp.command.sent"

    command_id: str = doc("The command's id (as in /api/v1/commands/{id} and its audit record).")
    station_id: str = doc("The station it was sent to.")
    action: str = doc("The OCPP action, e.g. Reset.")
    requested_by: str = doc("Who asked for it: an API token's name, or the CSMS itself.")


@attrs.frozen(kw_only=True)
class CommandResponse(Event):
    """A command ended with the station's answer, a CALLERROR, or the station disconnecting
    before it answered."""

    subject: ClassVar[str] = "ocpp.command.response"

    command_id: str = doc("The command's id.")
    station_id: str = doc("The station it was sent to.")
    action: str = doc("The OCPP action.")
    outcome: Literal["responded", "callerror", "disconnected"] = doc(
        "responded: the station answered (response); callerror: it answered with a CALLERROR "
        "(errorCode, errorDescription); disconnected: the connection ended first."
    )
    response: Mapping[str, Any] | None = doc(
        "The station's answer as it sent it (camelCase), when it responded.", default=None
    )
    error_code: str | None = doc(
        "The CALLERROR's code, e.g. NotSupported, when it was one.", default=None
    )
    error_description: str | None = doc(
        "The CALLERROR's description, when it was one.", default=None
    )


@attrs.frozen(kw_only=True)
class CommandTimeout(Event):
    """A command was not answered within its timeout; a late answer is dropped."""

    subject: ClassVar[str] = "ocpp.command.timeout"

    command_id: str = doc("The command's id.")
    station_id: str = doc("The station it was sent to.")
    action: str = doc("The OCPP action.")


@attrs.frozen(kw_only=True)
class CommandAbandoned(Event):
    """A command was dropped before it was sent: whoever asked for it had given up (its
    deadline passed, or the REST caller went away). Audited ``abandoned``; the station never
    saw it."""

    subject: ClassVar[str] = "ocpp.command.abandoned"

    command_id: str = doc("The command's id (its audit record).")
    station_id: str = doc("The station it was meant for.")
    action: str = doc("The OCPP action.")
    requested_by: str = doc("Who asked for it.")


# -- station messages kept on the event stream -----------------------------------------------------


@attrs.frozen(kw_only=True)
class StationMessage(Event):
    """A station message the CSMS acknowledges and puts on the event stream as it came."""

    #: The OCPP action whose request is the payload.
    action: ClassVar[str]

    station_id: str = doc("The station's identity.")
    payload: Mapping[str, Any] = doc(
        "The station's request as it sent it (camelCase, as on the wire)."
    )


@attrs.frozen(kw_only=True)
class LogStatus(StationMessage):
    """A LogStatusNotification (N01): progress of a GetLog upload."""

    subject: ClassVar[str] = "station.log_status"
    action: ClassVar[str] = "LogStatusNotification"


@attrs.frozen(kw_only=True)
class FirmwarePublishStatus(StationMessage):
    """A PublishFirmwareStatusNotification (L03): a local controller publishing firmware."""

    subject: ClassVar[str] = "firmware.publish_status"
    action: ClassVar[str] = "PublishFirmwareStatusNotification"


@attrs.frozen(kw_only=True)
class ChargingProfilesReported(StationMessage):
    """A ReportChargingProfiles (K09): profiles the station holds, answering GetChargingProfiles."""

    subject: ClassVar[str] = "charging.profiles_reported"
    action: ClassVar[str] = "ReportChargingProfiles"


@attrs.frozen(kw_only=True)
class ChargingLimit(StationMessage):
    """A NotifyChargingLimit (K12): an external limit (an EMS, the grid operator) applies."""

    subject: ClassVar[str] = "charging.limit"
    action: ClassVar[str] = "NotifyChargingLimit"


@attrs.frozen(kw_only=True)
class ChargingLimitCleared(StationMessage):
    """A ClearedChargingLimit (K13): an external limit no longer applies."""

    subject: ClassVar[str] = "charging.limit_cleared"
    action: ClassVar[str] = "ClearedChargingLimit"


@attrs.frozen(kw_only=True)
class ReservationStatus(StationMessage):
    """A ReservationStatusUpdate (H02): a reservation expired or was removed."""

    subject: ClassVar[str] = "reservation.status"
    action: ClassVar[str] = "ReservationStatusUpdate"


@attrs.frozen(kw_only=True)
class CustomerInformation(StationMessage):
    """A NotifyCustomerInformation (N09/N10): customer data the station reports."""

    subject: ClassVar[str] = "station.customer_information"
    action: ClassVar[str] = "NotifyCustomerInformation"


@attrs.frozen(kw_only=True)
class MonitoringReport(StationMessage):
    """A NotifyMonitoringReport (N02): the station's variable monitors."""

    subject: ClassVar[str] = "station.monitoring_report"
    action: ClassVar[str] = "NotifyMonitoringReport"


@attrs.frozen(kw_only=True)
class DisplayMessages(StationMessage):
    """A NotifyDisplayMessages (O04): the display messages the station holds."""

    subject: ClassVar[str] = "station.display_messages"
    action: ClassVar[str] = "NotifyDisplayMessages"


@attrs.frozen(kw_only=True)
class DERAlarm(StationMessage):
    """A NotifyDERAlarm (OCPP 2.1, R): a DER control alarm."""

    subject: ClassVar[str] = "der.alarm"
    action: ClassVar[str] = "NotifyDERAlarm"


@attrs.frozen(kw_only=True)
class DERStartStop(StationMessage):
    """A NotifyDERStartStop (OCPP 2.1, R): a DER control started or stopped."""

    subject: ClassVar[str] = "der.start_stop"
    action: ClassVar[str] = "NotifyDERStartStop"


@attrs.frozen(kw_only=True)
class DERControlReported(StationMessage):
    """A ReportDERControl (OCPP 2.1, R): the DER controls the station holds."""

    subject: ClassVar[str] = "der.control_reported"
    action: ClassVar[str] = "ReportDERControl"


@attrs.frozen(kw_only=True)
class PriorityCharging(StationMessage):
    """A NotifyPriorityCharging (OCPP 2.1): priority charging was activated or ended."""

    subject: ClassVar[str] = "charging.priority"
    action: ClassVar[str] = "NotifyPriorityCharging"


@attrs.frozen(kw_only=True)
class Settlement(StationMessage):
    """A NotifySettlement (OCPP 2.1, payment): a local payment was settled."""

    subject: ClassVar[str] = "payment.settlement"
    action: ClassVar[str] = "NotifySettlement"


@attrs.frozen(kw_only=True)
class BatterySwap(StationMessage):
    """A BatterySwap (OCPP 2.1): batteries taken out and put in."""

    subject: ClassVar[str] = "station.battery_swap"
    action: ClassVar[str] = "BatterySwap"


@attrs.frozen(kw_only=True)
class EventStreamOpened(StationMessage):
    """An OpenPeriodicEventStream (OCPP 2.1): the station opens a periodic event stream."""

    subject: ClassVar[str] = "station.event_stream_opened"
    action: ClassVar[str] = "OpenPeriodicEventStream"


@attrs.frozen(kw_only=True)
class PeriodicEventStream(StationMessage):
    """A NotifyPeriodicEventStream (OCPP 2.1 SEND): values of a periodic event stream."""

    subject: ClassVar[str] = "station.event_stream"
    action: ClassVar[str] = "NotifyPeriodicEventStream"


@attrs.frozen(kw_only=True)
class EventStreamClosed(StationMessage):
    """A ClosePeriodicEventStream (OCPP 2.1): the station closes a periodic event stream."""

    subject: ClassVar[str] = "station.event_stream_closed"
    action: ClassVar[str] = "ClosePeriodicEventStream"


@attrs.frozen(kw_only=True)
class EVChargingNeeds(StationMessage):
    """A NotifyEVChargingNeeds (K15, Q01): the EV's energy needs and, in 2.1, its V2X
    parameters."""

    subject: ClassVar[str] = "charging.needs"
    action: ClassVar[str] = "NotifyEVChargingNeeds"


@attrs.frozen(kw_only=True)
class EVChargingSchedule(StationMessage):
    """A NotifyEVChargingSchedule (K16/K17): the schedule the EV chose."""

    subject: ClassVar[str] = "charging.ev_schedule"
    action: ClassVar[str] = "NotifyEVChargingSchedule"


@attrs.frozen(kw_only=True)
class DataTransferReceived(StationMessage):
    """A DataTransfer from the station (P01)."""

    subject: ClassVar[str] = "station.data_transfer"
    action: ClassVar[str] = "DataTransfer"


# -- V2G discharge sessions (SPEC section 6) -------------------------------------------------------

V2GState = Literal[
    "requested", "negotiating", "starting", "discharging", "stopping", "completed", "failed"
]


@attrs.frozen(kw_only=True)
class V2GSessionStarted(Event):
    """A discharge session started: its checks passed and the station was commanded (or, in
    state negotiating, the EV was asked to renegotiate a bidirectional mode)."""

    subject: ClassVar[str] = "v2g.session.started"

    session_id: str = doc("The session's id (as in /api/v1/v2g/session/{id}).")
    station_id: str = doc("The station's identity.")
    evse_id: int = doc("The EVSE discharging.")
    transaction_id: str | None = doc("The station's transactionId the session rides on.")
    user_id: str | None = doc("The EV owner's user id, when the id token is linked to one.")
    requested_by: str = doc("Who started it: an API token's name, or optimizer.")
    state: Literal["negotiating", "starting", "discharging"] = doc(
        "negotiating: the EV was asked to renegotiate a bidirectional mode (NotifyAllowed"
        "EnergyTransfer); starting: the discharge profile was sent; discharging: the station "
        "confirmed it."
    )
    requested_power_kw: float = doc("The discharge power asked for, kW (positive).")
    min_soc_percent: float = doc("The SoC floor the session stops at, %.")
    start_soc: float | None = doc("The EV's state of charge at the start, %, when known.")
    operation_mode: str | None = doc(
        "The OCPP 2.1 operationMode commanded (e.g. CentralSetpoint); null for an OCPP 2.0.1 "
        "station (a negative TxProfile limit, docs/V2G.md)."
    )
    ends_by: dt.datetime | None = doc(
        "When the session will stop at the latest (duration or discharge window), if bounded."
    )


@attrs.frozen(kw_only=True)
class V2GSessionUpdated(Event):
    """A discharge session's progress (meter values followed, setpoint changed); published at
    most every few seconds per session."""

    subject: ClassVar[str] = "v2g.session.updated"

    session_id: str = doc("The session's id.")
    station_id: str = doc("The station's identity.")
    evse_id: int = doc("The EVSE discharging.")
    transaction_id: str | None = doc("The station's transactionId.")
    state: V2GState = doc("The session's state.")
    setpoint_kw: float | None = doc("The discharge power currently commanded, kW (positive).")
    last_power_kw: float | None = doc("The last exported power the station reported, kW.")
    last_soc: float | None = doc("The last state of charge the station reported, %.")
    exported_wh: float = doc(
        "Energy exported so far, Wh: the export register's difference since the session's "
        "first reading (never integrated from power samples)."
    )


@attrs.frozen(kw_only=True)
class V2GSessionCompleted(Event):
    """A discharge session ended, for whatever reason; charging was restored (the discharge
    profile cleared, or a ChargingOnly profile sent)."""

    subject: ClassVar[str] = "v2g.session.completed"

    session_id: str = doc("The session's id.")
    station_id: str = doc("The station's identity.")
    evse_id: int = doc("The EVSE that discharged.")
    transaction_id: str | None = doc("The station's transactionId.")
    user_id: str | None = doc("The EV owner's user id, when known.")
    state: Literal["completed", "failed"] = doc(
        "completed: it ended as planned or was stopped; failed: the station refused or faulted."
    )
    end_reason: str = doc(
        "Why it ended (docs/V2G.md): soc_floor, window_end, duration_elapsed, "
        "departure_energy, operator_stop, transaction_ended, station_disconnected, "
        "station_fault, profile_rejected, negotiation_failed, node_restart_lost."
    )
    started_at: dt.datetime | None = doc("When discharging started, if it did.")
    ended_at: dt.datetime = doc("When it ended.")
    exported_wh: float = doc("Energy exported, Wh (export register, last minus first reading).")
    start_soc: float | None = doc("The state of charge at the start, %.")
    last_soc: float | None = doc("The last state of charge reported, %.")


# -- V2G money (SPEC section 6) --------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GridPricesRefreshed(Event):
    """The prices actor reloaded its hourly PLD (CCEE, else the simulated curve): forecasts may
    have changed, so the V2G optimizer plans again."""

    subject: ClassVar[str] = "grid.prices.refreshed"

    ccee_hours: int = doc("Hours of the months read that CCEE published.")
    simulated_hours: int = doc("Hours of the months read priced by the simulated curve.")


@attrs.frozen(kw_only=True)
class V2GCompensationRecorded(Event):
    """A discharge session's compensation was recorded (once per session; docs/V2G.md
    "Compensation and payouts"). Money as decimal strings in R$, to the centavo."""

    subject: ClassVar[str] = "v2g.compensation.recorded"

    compensation_id: str = doc("The compensation's id (as in /api/v1/v2g/compensations).")
    session_id: str = doc("The discharge session it pays for.")
    station_id: str = doc("The station that discharged.")
    user_id: str | None = doc("The EV owner's user id, when known.")
    price_source: str = doc("regulated, pld or contract (the station group's source).")
    exported_kwh: str = doc("Energy exported, kWh (export register differences).")
    gross_rs: str = doc("The energy's value at the intervals' prices, R$.")
    margin_rs: str = doc("The operator's margin, R$.")
    net_rs: str = doc("What the owner is paid, R$ (gross minus margin).")
    simulated: bool = doc("Some price rested on the simulated PLD (CCEE unreachable).")


@attrs.frozen(kw_only=True)
class V2GPayoutPaid(Event):
    """A compensation was paid to its owner's wallet."""

    subject: ClassVar[str] = "v2g.payout.paid"

    compensation_id: str = doc("The compensation paid.")
    session_id: str = doc("Its discharge session.")
    user_id: str | None = doc("The owner paid.")
    wallet_id: str | None = doc("The wallet paid to.")
    amount_rs: str = doc("The amount, R$ (decimal string).")
    attempts: int = doc("Attempts it took (the same idempotency key each time).")
    wallet_reference: str | None = doc("The wallet service's id of the payment, if it gave one.")


@attrs.frozen(kw_only=True)
class V2GPayoutFailed(Event):
    """A payout ended failed: the wallet refused it, there was no wallet, or every attempt
    failed; it is not retried by itself."""

    subject: ClassVar[str] = "v2g.payout.failed"

    compensation_id: str = doc("The compensation not paid.")
    session_id: str = doc("Its discharge session.")
    user_id: str | None = doc("The owner.")
    amount_rs: str = doc("The amount, R$ (decimal string).")
    attempts: int = doc("Attempts made.")
    error: str = doc("Why: the wallet's answer (HTTP status), no_wallet, or the last failure.")


# -- firmware jobs (SPEC section 7) ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FirmwareUpdateStarted(Event):
    """A firmware job sent UpdateFirmware and the station accepted it."""

    subject: ClassVar[str] = "firmware.update.started"

    job_id: str = doc("The job's id (as in /api/v1/firmware/jobs/{id}).")
    station_id: str = doc("The station's identity.")
    request_id: int = doc(
        "The UpdateFirmware requestId; the station's status notifications carry it."
    )
    command_id: str = doc("The id of the UpdateFirmware command (its audit record).")
    campaign_id: str | None = doc("The campaign that started the job, if any.")
    requested_by: str = doc("Who asked for it: an API token's name, or the campaign.")
    location: str = doc("Where the station downloads the image from.")
    retrieve_at: dt.datetime = doc("When the station is to start downloading.")
    install_at: dt.datetime | None = doc("When the station is to install, if scheduled.")
    signed: bool = doc(
        "Whether the update is signed (L01: signature and signing certificate sent)."
    )
    status: Literal["Accepted", "AcceptedCanceled"] = doc(
        "The station's answer: AcceptedCanceled when it replaced a running update."
    )
    replaces_job_id: str | None = doc("The job this one replaced (AcceptedCanceled), if any.")


@attrs.frozen(kw_only=True)
class FirmwareUpdateProgress(Event):
    """A firmware job moved on: the station reported a new status for its requestId."""

    subject: ClassVar[str] = "firmware.update.progress"

    job_id: str = doc("The job's id.")
    station_id: str = doc("The station's identity.")
    request_id: int = doc("The UpdateFirmware requestId.")
    campaign_id: str | None = doc("The job's campaign, if any.")
    status: str = doc(
        "The station's status (FirmwareStatusEnumType): Downloading, Downloaded, "
        "SignatureVerified, InstallScheduled, Installing, InstallRebooting, DownloadPaused, ..."
    )


@attrs.frozen(kw_only=True)
class FirmwareUpdateCompleted(Event):
    """A firmware job ended well: Installed, and the station booted again with the new version."""

    subject: ClassVar[str] = "firmware.update.completed"

    job_id: str = doc("The job's id.")
    station_id: str = doc("The station's identity.")
    request_id: int = doc("The UpdateFirmware requestId.")
    campaign_id: str | None = doc("The job's campaign, if any.")
    firmware_version: str | None = doc(
        "The firmwareVersion of the station's BootNotification after the update, when it sent one."
    )
    started_at: dt.datetime = doc("When the job sent UpdateFirmware.")


@attrs.frozen(kw_only=True)
class FirmwareUpdateFailed(Event):
    """A firmware job ended without the new firmware installed."""

    subject: ClassVar[str] = "firmware.update.failed"

    job_id: str = doc("The job's id.")
    station_id: str = doc("The station's identity.")
    request_id: int = doc("The UpdateFirmware requestId.")
    campaign_id: str | None = doc("The job's campaign, if any.")
    reason: str = doc(
        "Why: Rejected, InvalidCertificate, RevokedCertificate (the station's answer); "
        "DownloadFailed, InvalidSignature, InstallationFailed, InstallVerificationFailed (its "
        "status); TimedOut (it stopped reporting); Replaced (a newer job took over); Canceled."
    )
    last_status: str | None = doc("The last status the station reported, if any.")
    started_at: dt.datetime = doc("When the job sent UpdateFirmware.")


# -- certificates (SPEC sections 3 and 7) ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class CertificateSigned(Event):
    """A station's CSR was signed and sent back in CertificateSigned (A02/A03); ``status`` is
    the station's answer (Rejected: it found the certificate invalid, A02.FR.07)."""

    subject: ClassVar[str] = "security.certificate.signed"

    station_id: str = doc("The station's identity.")
    certificate_type: str = doc("ChargingStationCertificate or V2GCertificate.")
    serial_number: str = doc("The new certificate's serial number (hexadecimal).")
    valid_to: dt.datetime = doc("The end of the new certificate's validity.")
    status: str = doc(
        "The station's CertificateSigned answer: Accepted, Rejected, or Failed when it did not "
        "answer."
    )


@attrs.frozen(kw_only=True)
class CertificateRejected(Event):
    """A certificate failure: a CSR refused, a contract certificate that does not validate, an
    OCSP or contract-certificate request that failed. ``security_event`` is the matching
    SecurityEventNotification type (Part 2 appendices), logged with it."""

    subject: ClassVar[str] = "security.certificate.rejected"

    station_id: str = doc("The station's identity.")
    operation: str = doc(
        "SignCertificate, Authorize, GetCertificateStatus, Get15118EVCertificate or "
        "CertificateSigned."
    )
    status: str = doc(
        "What the station was answered: Rejected, Failed, or the certificate status "
        "(CertChainError, CertificateExpired, CertificateRevoked, SignatureError, "
        "ContractCancelled)."
    )
    reason: str = doc("The exact reason, e.g. 'CSR common name is not the station id'.")
    security_event: str = doc(
        "The security event type, e.g. InvalidChargingStationCertificate, "
        "InvalidCentralSystemCertificate."
    )


@attrs.frozen(kw_only=True)
class CertificateInstalled(Event):
    """An operator's InstallCertificate (M05) was answered."""

    subject: ClassVar[str] = "security.certificate.installed"

    station_id: str = doc("The station's identity.")
    certificate_type: str = doc("InstallCertificateUseEnumType, e.g. V2GRootCertificate.")
    serial_number: str = doc("The certificate's serial number (hexadecimal).")
    status: str = doc("The station's answer: Accepted, Rejected or Failed.")


@attrs.frozen(kw_only=True)
class CertificateDeleted(Event):
    """An operator's DeleteCertificate (M04) was answered."""

    subject: ClassVar[str] = "security.certificate.deleted"

    station_id: str = doc("The station's identity.")
    serial_number: str = doc("The certificate's serial number (hexadecimal).")
    status: str = doc("The station's answer: Accepted, Failed or NotFound.")


@attrs.frozen(kw_only=True)
class FirmwareCampaignEvent(Event):
    """A firmware campaign and its counts of stations per state."""

    campaign_id: str = doc("The campaign's id (as in /api/v1/firmware/campaigns/{id}).")
    state: Literal["running", "paused", "halted", "completed", "canceled"] = doc(
        "The campaign's state: halted once its failure threshold was reached."
    )
    reason: str | None = doc("Why it halted or was canceled, if it did.")
    pending: int = doc("Stations not started yet.")
    running: int = doc("Stations whose job runs.")
    installed: int = doc("Stations whose job completed.")
    failed: int = doc("Stations whose job failed or could not be started.")
    skipped: int = doc("Stations already on the target version.")


@attrs.frozen(kw_only=True)
class FirmwareCampaignState(FirmwareCampaignEvent):
    """A firmware campaign started, was paused, resumed or canceled, halted, or completed."""

    subject: ClassVar[str] = "firmware.campaign.state"


@attrs.frozen(kw_only=True)
class FirmwareCampaignProgress(FirmwareCampaignEvent):
    """A station of a firmware campaign was installed, failed or skipped."""

    subject: ClassVar[str] = "firmware.campaign.progress"

    station_id: str = doc("The station that moved on.")
    station_state: Literal["installed", "failed", "skipped"] = doc("What became of it.")


# -- the catalog -----------------------------------------------------------------------------------

#: Every event the bus carries, in the order docs/EVENTS.md lists them.
CATALOG: tuple[type[Event], ...] = (
    StationConnected,
    StationDisconnected,
    StationBooted,
    StationStatus,
    StationReport,
    StationEvents,
    SecurityEvent,
    FirmwareStatus,
    TransactionStarted,
    TransactionUpdated,
    TransactionEnded,
    CommandSent,
    CommandResponse,
    CommandTimeout,
    CommandAbandoned,
    LogStatus,
    FirmwarePublishStatus,
    ChargingProfilesReported,
    ChargingLimit,
    ChargingLimitCleared,
    ReservationStatus,
    CustomerInformation,
    MonitoringReport,
    DisplayMessages,
    DERAlarm,
    DERStartStop,
    DERControlReported,
    PriorityCharging,
    Settlement,
    BatterySwap,
    EventStreamOpened,
    PeriodicEventStream,
    EventStreamClosed,
    EVChargingNeeds,
    EVChargingSchedule,
    DataTransferReceived,
    V2GSessionStarted,
    V2GSessionUpdated,
    V2GSessionCompleted,
    GridPricesRefreshed,
    V2GCompensationRecorded,
    V2GPayoutPaid,
    V2GPayoutFailed,
    FirmwareUpdateStarted,
    FirmwareUpdateProgress,
    FirmwareUpdateCompleted,
    FirmwareUpdateFailed,
    FirmwareCampaignState,
    FirmwareCampaignProgress,
    CertificateSigned,
    CertificateRejected,
    CertificateInstalled,
    CertificateDeleted,
)

#: subject -> its class.
BY_SUBJECT: Mapping[str, type[Event]] = {cls.subject: cls for cls in CATALOG}

#: OCPP action -> the class of the station message it is put on the event stream as.
STATION_MESSAGES: Mapping[str, type[StationMessage]] = {
    cls.action: cls for cls in CATALOG if issubclass(cls, StationMessage)
}

for _cls in CATALOG:
    attrs.resolve_types(_cls)  # field types as objects, for from_json and the docs' schemas


# -- JSON ------------------------------------------------------------------------------------------

_KEYS: dict[type[Event], tuple[tuple[str, str], ...]] = {}


def _json_keys(cls: type[Event]) -> tuple[tuple[str, str], ...]:
    keys = _KEYS.get(cls)
    if keys is None:
        keys = _KEYS[cls] = tuple((f.name, camel(f.name)) for f in attrs.fields(cls))
    return keys


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _decode(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    origin = get_origin(kind)
    if origin is tuple:
        item = get_args(kind)[0]
        return tuple(_decode(item, v) for v in value)
    if origin is types.UnionType:  # X | None, and value is not None
        (inner,) = (a for a in get_args(kind) if a is not type(None))
        return _decode(inner, value)
    return value


def from_json(body: Mapping[str, Any]) -> Event:
    """The event a JSON body (``Event.to_json``) describes; ValueError if it is not one."""
    cls = BY_SUBJECT.get(body.get("subject", ""))
    if cls is None:
        raise ValueError(f"unknown subject {body.get('subject')!r}")
    if body.get("schema") != cls.schema:
        raise ValueError(f"{cls.subject}: schema {body.get('schema')!r}, expected {cls.schema}")
    kwargs = {}
    for field in attrs.fields(cls):
        key = camel(field.name)
        if key not in body:
            raise ValueError(f"{cls.subject}: {key} is missing")
        kwargs[field.name] = _decode(field.type, body[key])
    return cls(**kwargs)
