"""Typed write records: what the persistence actor accepts and stores.

Each record is a frozen value checked when it is built, so a malformed record fails at its source
with a ``ValueError`` naming the field, not inside a database batch shared with other writers. The
checks mirror the database constraints (the database stays the final guard).

Quantities carry their unit in the name: energy in Wh, power in W, money in BRL, all as
``Decimal`` (never float) so what is stored is exactly what the station sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

import attrs

__all__ = [
    "CONNECTOR_STATUSES",
    "MEASURANDS",
    "READING_CONTEXTS",
    "CommandAudit",
    "DeviceVariableRecord",
    "EvseStatus",
    "FirmwareStatusRecord",
    "MeterValueRow",
    "Record",
    "SecurityEventRecord",
    "StationPresence",
    "StationUpsert",
    "TransactionEventRecord",
    "V2GEventRecord",
    "to_decimal",
    "unchecked_constructor",
]

T = TypeVar("T", bound=attrs.AttrsInstance)

MEASURANDS = frozenset(
    # OCPP 2.0.1 and 2.1 MeasurandEnumType (2.1 is a superset).
    [
        "Current.Export",
        "Current.Export.Offered",
        "Current.Export.Minimum",
        "Current.Import",
        "Current.Import.Offered",
        "Current.Import.Minimum",
        "Current.Offered",
        "Display.PresentSOC",
        "Display.MinimumSOC",
        "Display.TargetSOC",
        "Display.MaximumSOC",
        "Display.RemainingTimeToMinimumSOC",
        "Display.RemainingTimeToTargetSOC",
        "Display.RemainingTimeToMaximumSOC",
        "Display.ChargingComplete",
        "Display.BatteryEnergyCapacity",
        "Display.InletHot",
        "Energy.Active.Export.Interval",
        "Energy.Active.Export.Register",
        "Energy.Active.Import.Interval",
        "Energy.Active.Import.Register",
        "Energy.Active.Import.CableLoss",
        "Energy.Active.Import.LocalGeneration.Register",
        "Energy.Active.Net",
        "Energy.Active.Setpoint.Interval",
        "Energy.Apparent.Export",
        "Energy.Apparent.Import",
        "Energy.Apparent.Net",
        "Energy.Reactive.Export.Interval",
        "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Interval",
        "Energy.Reactive.Import.Register",
        "Energy.Reactive.Net",
        "EnergyRequest.Target",
        "EnergyRequest.Minimum",
        "EnergyRequest.Maximum",
        "EnergyRequest.Minimum.V2X",
        "EnergyRequest.Maximum.V2X",
        "EnergyRequest.Bulk",
        "Frequency",
        "Power.Active.Export",
        "Power.Active.Import",
        "Power.Active.Setpoint",
        "Power.Active.Residual",
        "Power.Export.Minimum",
        "Power.Export.Offered",
        "Power.Factor",
        "Power.Import.Offered",
        "Power.Import.Minimum",
        "Power.Offered",
        "Power.Reactive.Export",
        "Power.Reactive.Import",
        "SoC",
        "Voltage",
        "Voltage.Minimum",
        "Voltage.Maximum",
    ]
)
PHASES = frozenset(["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"])
LOCATIONS = frozenset(["Body", "Cable", "EV", "Inlet", "Outlet", "Upstream"])
READING_CONTEXTS = frozenset(
    [
        "Interruption.Begin",
        "Interruption.End",
        "Other",
        "Sample.Clock",
        "Sample.Periodic",
        "Transaction.Begin",
        "Transaction.End",
        "Trigger",
    ]
)
CONNECTOR_STATUSES = frozenset(["Available", "Occupied", "Reserved", "Unavailable", "Faulted"])
REGISTRATION_STATUSES = frozenset({"Accepted", "Pending", "Rejected"})
TRANSACTION_EVENT_TYPES = frozenset({"Started", "Updated", "Ended"})
CHARGING_STATES = frozenset(["Charging", "EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle"])
COMMAND_STATUSES = frozenset(
    {"pending", "sent", "responded", "error", "timeout", "failed", "abandoned"}
)
ATTRIBUTE_TYPES = frozenset({"Actual", "Target", "MinSet", "MaxSet"})
MUTABILITIES = frozenset({"ReadOnly", "WriteOnly", "ReadWrite"})

_MAX_STATION_ID = 48


def to_decimal(value: Decimal | int | float | str) -> Decimal:
    """Exact decimal of a JSON number: a float goes through its shortest repr, so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _optional_decimal(value: Decimal | int | float | str | None) -> Decimal | None:
    return None if value is None else to_decimal(value)


def _station_id(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_STATION_ID or ":" in value:
        raise ValueError(f"{attribute.name}: invalid station id {value!r}")


def _transaction_id(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 36):
        raise ValueError(f"{attribute.name}: 1 to 36 characters, got {value!r}")


def _aware(_: object, attribute: attrs.Attribute[Any], value: dt.datetime | None) -> None:
    if value is not None and (not isinstance(value, dt.datetime) or value.utcoffset() is None):
        raise ValueError(f"{attribute.name}: needs a timezone-aware datetime, got {value!r}")


def _one_of(allowed: frozenset[str], *, optional: bool = False) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is None and optional:
            return
        if value not in allowed:
            raise ValueError(f"{attribute.name}: {value!r} is not one of the allowed values")

    return check


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value < 0):
        raise ValueError(f"{attribute.name}: must be a non-negative integer, got {value!r}")


def _json_object(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, Any]) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(  # noqa: TRY004 - every record check raises ValueError, as documented
            f"{attribute.name}: must be a JSON object, got {type(value).__name__}"
        )


@attrs.frozen
class StationUpsert:
    """Create a station or update the fields that are not None (BootNotification, registration);
    with ``create=False`` only an existing station is updated."""

    station_id: str = attrs.field(validator=_station_id)
    at: dt.datetime = attrs.field(validator=_aware)
    registration_status: str | None = attrs.field(
        default=None, validator=_one_of(REGISTRATION_STATUSES, optional=True)
    )
    ocpp_version: str | None = attrs.field(
        default=None, validator=_one_of(frozenset({"ocpp2.0.1", "ocpp2.1"}), optional=True)
    )
    vendor_name: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    modem_iccid: str | None = None
    modem_imsi: str | None = None
    boot_reason: str | None = None
    #: False: only update an existing station (a boot never recreates a deleted one).
    create: bool = True


@attrs.frozen
class StationPresence:
    """A station connected to ``node_id`` (or disconnected from it when ``connected`` is false)."""

    station_id: str = attrs.field(validator=_station_id)
    node_id: str
    connected: bool
    at: dt.datetime = attrs.field(validator=_aware)


@attrs.frozen
class EvseStatus:
    """StatusNotification: the newest status per connector wins, an older one is ignored."""

    station_id: str = attrs.field(validator=_station_id)
    evse_id: int = attrs.field(validator=_non_negative)
    connector_id: int = attrs.field(validator=_non_negative)
    status: str = attrs.field(validator=_one_of(CONNECTOR_STATUSES))
    at: dt.datetime = attrs.field(validator=_aware)


@attrs.frozen
class MeterValueRow:
    """One sampled value, already scaled by its multiplier (energy in Wh, power in W)."""

    station_id: str = attrs.field(validator=_station_id)
    timestamp: dt.datetime = attrs.field(validator=_aware)
    measurand: str = attrs.field(validator=_one_of(MEASURANDS))
    value: Decimal = attrs.field(converter=to_decimal)
    evse_id: int = attrs.field(default=0, validator=_non_negative)
    transaction_id: str | None = attrs.field(default=None, validator=_transaction_id)
    phase: str | None = attrs.field(default=None, validator=_one_of(PHASES, optional=True))
    location: str | None = attrs.field(default=None, validator=_one_of(LOCATIONS, optional=True))
    context: str | None = attrs.field(
        default=None, validator=_one_of(READING_CONTEXTS, optional=True)
    )
    unit: str | None = None


def unchecked_constructor(cls: type[T]) -> Callable[..., T]:
    """A constructor of the record class ``cls`` that takes every field positionally, in
    declaration order, and fills the slots directly: no validator, no converter, no default.

    Only for values an earlier check already guarantees (``meter_rows`` builds rows from
    schema-validated messages: re-running the checks per sampled value cost as much as
    everything else done with the value). Anything else builds records the checked way.
    """
    fields = attrs.fields(cls)
    env: dict[str, Any] = {"new": object.__new__, "cls": cls}
    args = ", ".join(f"a{i}" for i in range(len(fields)))
    lines = [f"def unchecked_{cls.__name__}({args}):", "    self = new(cls)"]
    for i, field in enumerate(fields):
        env[f"set{i}"] = getattr(cls, field.name).__set__  # the slot, past frozen
        lines.append(f"    set{i}(self, a{i})")
    lines.append("    return self")
    exec(compile("\n".join(lines) + "\n", f"<unchecked {cls.__qualname__}>", "exec"), env)
    constructor: Callable[..., T] = env[f"unchecked_{cls.__name__}"]
    return constructor


@attrs.frozen
class TransactionEventRecord:
    """A TransactionEvent. Stored once per (station, transaction, seqNo): a retried event is
    acknowledged again but neither it nor its meter values are stored twice.

    Its meter values are those of ``payload`` (``meterValue``, schema-valid wire JSON): the
    database makes their rows from it in the statement that inserts the event, converted as
    ``csms.domain.metering.meter_rows_from_json`` converts them (``csms.storage._sql``)."""

    station_id: str = attrs.field(validator=_station_id)
    transaction_id: str = attrs.field(validator=_transaction_id)
    seq_no: int = attrs.field(validator=_non_negative)
    event_type: str = attrs.field(validator=_one_of(TRANSACTION_EVENT_TYPES))
    timestamp: dt.datetime = attrs.field(validator=_aware)
    trigger_reason: str
    payload: Mapping[str, Any] = attrs.field(validator=_json_object)
    offline: bool = False
    evse_id: int | None = attrs.field(default=None, validator=_non_negative)
    connector_id: int | None = attrs.field(default=None, validator=_non_negative)
    id_token: str | None = None
    id_token_type: str | None = None
    charging_state: str | None = attrs.field(
        default=None, validator=_one_of(CHARGING_STATES, optional=True)
    )
    stopped_reason: str | None = None


@attrs.frozen
class CommandAudit:
    """The state of one CSMS-to-station call; written when sent and again when it completes."""

    command_id: str
    station_id: str = attrs.field(validator=_station_id)
    action: str
    requested_by: str
    payload: Mapping[str, Any] = attrs.field(validator=_json_object)
    status: str = attrs.field(validator=_one_of(COMMAND_STATUSES))
    requested_at: dt.datetime = attrs.field(validator=_aware)
    node_id: str | None = None
    message_id: str | None = None
    sent_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    completed_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    response: Mapping[str, Any] | None = None
    error_code: str | None = None
    error_description: str | None = None


@attrs.frozen
class SecurityEventRecord:
    station_id: str = attrs.field(validator=_station_id)
    type: str
    timestamp: dt.datetime = attrs.field(validator=_aware)
    tech_info: str | None = None


@attrs.frozen
class DeviceVariableRecord:
    """One attribute of one variable of the device model (NotifyReport, GetVariables results)."""

    station_id: str = attrs.field(validator=_station_id)
    component: str
    variable: str
    at: dt.datetime = attrs.field(validator=_aware)
    component_instance: str | None = None
    evse_id: int | None = attrs.field(default=None, validator=_non_negative)
    connector_id: int | None = attrs.field(default=None, validator=_non_negative)
    variable_instance: str | None = None
    attribute_type: str = attrs.field(default="Actual", validator=_one_of(ATTRIBUTE_TYPES))
    value: str | None = None
    mutability: str | None = attrs.field(
        default=None, validator=_one_of(MUTABILITIES, optional=True)
    )
    persistent: bool | None = None
    constant: bool | None = None
    data_type: str | None = None
    unit: str | None = None
    min_limit: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    max_limit: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    values_list: str | None = None


@attrs.frozen
class FirmwareStatusRecord:
    """A FirmwareStatusNotification applied to the job with the same station and request id."""

    station_id: str = attrs.field(validator=_station_id)
    request_id: int
    status: str
    at: dt.datetime = attrs.field(validator=_aware)
    state: str | None = attrs.field(
        default=None,
        validator=_one_of(frozenset({"active", "completed", "failed", "canceled"}), optional=True),
    )


@attrs.frozen
class V2GEventRecord:
    """One step of a V2G discharge session (a meter reading, a state change, a command)."""

    session_id: str
    at: dt.datetime = attrs.field(validator=_aware)
    kind: str
    soc_percent: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    power_w: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    energy_exported_wh: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    payload: Mapping[str, Any] = attrs.field(factory=dict, validator=_json_object)


Record: TypeAlias = (
    StationUpsert
    | StationPresence
    | EvseStatus
    | MeterValueRow
    | TransactionEventRecord
    | CommandAudit
    | SecurityEventRecord
    | DeviceVariableRecord
    | FirmwareStatusRecord
    | V2GEventRecord
)
