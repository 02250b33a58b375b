"""The values of a V2G discharge session: its state, the inputs it takes and the effects it
asks for (``csms.services.v2g_session`` is the policy over them), and the state's JSON form to
store and resume from. Power in W (positive magnitudes unless said signed), energy in Wh, SoC %.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from csms.protocol import Version

from .v2g_preferences import V2GPreferences
from .v2x_capability import EVCapability, StationV2XSupport

__all__ = [
    "ACTIVE",
    "FAILED_REASONS",
    "ChangePower",
    "Decision",
    "Effect",
    "End",
    "EndReason",
    "Input",
    "MeterReading",
    "NeedsRenegotiated",
    "OperatorStop",
    "ProfileAnswer",
    "Record",
    "RestoreCharging",
    "SendAllowedEnergyTransfer",
    "SendProfile",
    "SendSetpoint",
    "SessionState",
    "StartAccepted",
    "StartRefusal",
    "StartRefused",
    "StartRequest",
    "StateName",
    "StationDisconnected",
    "StationFault",
    "StationReconnected",
    "Tick",
    "TransactionEnded",
    "state_from_json",
    "state_to_json",
]

StateName = Literal[
    "requested", "negotiating", "starting", "discharging", "stopping", "completed", "failed"
]
EndReason = Literal[
    "soc_floor",
    "window_end",
    "departure_energy",
    "operator_stop",
    "transaction_ended",
    "station_disconnected",
    "station_fault",
    "profile_rejected",
    "duration_elapsed",
    "node_restart_lost",
    "negotiation_failed",
]
StartRefusal = Literal[
    "ev_not_bidirectional",
    "user_not_opted_in",
    "soc_at_floor",
    "no_active_transaction",
    "operation_mode_unsupported",
    "outside_discharge_window",
    "session_active",
    "station_not_connected",
    "cycle_limit_reached",
]
#: Ends that are the station's or the EV's failure rather than a planned stop.
FAILED_REASONS: Final = frozenset(
    {
        "station_disconnected",
        "station_fault",
        "profile_rejected",
        "node_restart_lost",
        "negotiation_failed",
    }
)
ACTIVE: Final = frozenset({"requested", "negotiating", "starting", "discharging", "stopping"})


@attrs.frozen(kw_only=True)
class SessionState:
    """Everything a session needs to go on, flat so that it stores as JSON (``state_to_json``)
    and resumes after a node restart. Power in W (positive magnitudes), energy in Wh, SoC %."""

    session_id: str
    station_id: str
    evse_id: int
    transaction_id: str
    user_id: str | None
    version: Version
    state: StateName
    requested_w: Decimal
    user_max_w: Decimal
    ev_max_w: Decimal | None
    ev_max_w_l2: Decimal | None = None
    ev_max_w_l3: Decimal | None = None
    ev_max_charge_w: Decimal | None = None
    ev_target_soc: int | None = None
    battery_wh: Decimal | None = None
    setpoint_w: Decimal | None = None
    min_soc_percent: Decimal
    departure_energy_wh: Decimal | None = None
    requested_at: dt.datetime
    ends_at: dt.datetime | None = None
    ends_by: Literal["window_end", "duration_elapsed"] | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    end_reason: EndReason | None = None
    start_soc: Decimal | None = None
    last_soc: Decimal | None = None
    first_export_wh: Decimal | None = None
    last_export_wh: Decimal | None = None
    last_power_w: Decimal | None = None
    disconnected_at: dt.datetime | None = None
    recorded_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def exported_wh(self) -> Decimal:
        """The export register's last reading minus its first (0 before two readings)."""
        if self.first_export_wh is None or self.last_export_wh is None:
            return Decimal(0)
        return self.last_export_wh - self.first_export_wh

    @property
    def max_w(self) -> Decimal:
        """The most this session may command: the user's and the EV's maximum."""
        return self.user_max_w if self.ev_max_w is None else min(self.user_max_w, self.ev_max_w)

    def capability(self) -> EVCapability:
        """What the profiles need of the EV (its discharge maxima per phase, V2X.08)."""
        return EVCapability(
            evse_id=self.evse_id,
            requested_mode="DC_BPT",
            available_modes=("DC_BPT",),
            source="v2x_parameters",
            max_charge_w=self.ev_max_charge_w,
            max_discharge_w=self.ev_max_w,
            max_discharge_w_l2=self.ev_max_w_l2,
            max_discharge_w_l3=self.ev_max_w_l3,
        )


# -- inputs ------------------------------------------------------------------------------------


@attrs.frozen
class MeterReading:
    """One sample of the transaction's meter values (SoC, Energy.Active.Export.Register,
    Power.Active.Export); a measurand the station did not send is None."""

    at: dt.datetime
    soc: Decimal | None = None
    export_wh: Decimal | None = None
    export_power_w: Decimal | None = None


@attrs.frozen
class Tick:
    at: dt.datetime


@attrs.frozen
class OperatorStop:
    at: dt.datetime


@attrs.frozen
class TransactionEnded:
    at: dt.datetime


@attrs.frozen
class StationDisconnected:
    at: dt.datetime


@attrs.frozen
class StationReconnected:
    at: dt.datetime


@attrs.frozen
class StationFault:
    """A StatusNotification Faulted on the session's EVSE."""

    at: dt.datetime


@attrs.frozen
class ProfileAnswer:
    """The SetChargingProfileResponse (accepted) or its failure (rejected, error, timeout)."""

    at: dt.datetime
    accepted: bool


@attrs.frozen
class NeedsRenegotiated:
    """A fresh NotifyEVChargingNeeds on the session's EVSE (Q02.FR.07, K17)."""

    at: dt.datetime
    capability: EVCapability


@attrs.frozen
class ChangePower:
    """A new discharge power asked for (operator, optimizer); positive W."""

    at: dt.datetime
    power_w: Decimal


Input = (
    MeterReading
    | Tick
    | OperatorStop
    | TransactionEnded
    | StationDisconnected
    | StationReconnected
    | StationFault
    | ProfileAnswer
    | NeedsRenegotiated
    | ChangePower
)


# -- effects -----------------------------------------------------------------------------------


@attrs.frozen
class SendProfile:
    """SetChargingProfile with this request payload."""

    request: dict[str, Any]


@attrs.frozen
class SendSetpoint:
    """UpdateDynamicSchedule with this request payload; ``setpoint_w`` is signed."""

    request: dict[str, Any]
    setpoint_w: Decimal


@attrs.frozen
class SendAllowedEnergyTransfer:
    """NotifyAllowedEnergyTransfer with this request payload (Q02.FR.05)."""

    request: dict[str, Any]


@attrs.frozen
class RestoreCharging:
    """Exactly one of: ClearChargingProfile ``clear``, SetChargingProfile ``profile``."""

    clear: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None


@attrs.frozen
class Record:
    """Publish and store ``v2g.session.<kind>`` for ``state``."""

    kind: Literal["started", "updated", "completed"]
    state: SessionState


@attrs.frozen
class End:
    reason: EndReason
    state: Literal["completed", "failed"]


Effect = SendProfile | SendSetpoint | SendAllowedEnergyTransfer | RestoreCharging | Record | End


# -- starting ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartRequest:
    """What a start is decided from (read by the actor in one go)."""

    session_id: str
    station_id: str
    evse_id: int
    transaction_id: str | None
    user_id: str | None
    version: Version
    station: StationV2XSupport
    capability: EVCapability | None
    preferences: V2GPreferences | None
    power_w: Decimal
    now: dt.datetime
    duration_s: int | None = None
    min_soc_percent: Decimal | None = None  # may raise the user's floor, never lower it
    soc_percent: Decimal | None = None  # the last SoC reported, if newer than the needs'
    station_connected: bool = True
    session_active: bool = False
    cycles_today: int = 0


@attrs.frozen
class StartRefused:
    code: StartRefusal


@attrs.frozen
class StartAccepted:
    state: SessionState
    effects: tuple[Effect, ...]


Decision = StartAccepted | StartRefused


# -- storage -----------------------------------------------------------------------------------

_DECIMALS: Final = frozenset(f.name for f in attrs.fields(SessionState) if "Decimal" in str(f.type))
_TIMES: Final = frozenset(f.name for f in attrs.fields(SessionState) if "datetime" in str(f.type))


_NAMES: Final = tuple(f.name for f in attrs.fields(SessionState))


def _to_json(name: str) -> Callable[[Any], Any] | None:
    if name in _DECIMALS:
        return str
    if name in _TIMES:
        return dt.datetime.isoformat
    if name == "version":
        return operator.attrgetter("value")
    return None


#: Each field with its conversion (None: stored as it is), worked out once.
_TO_JSON: Final = tuple((name, _to_json(name)) for name in _NAMES)


def state_to_json(state: SessionState) -> dict[str, Any]:
    """``state`` as JSON (decimals as strings, times ISO 8601) to store and resume from.
    Written at every record of every session: one pass over the fields, no copy first, each
    field's conversion looked up once for all."""
    out: dict[str, Any] = {}
    for name, convert in _TO_JSON:
        value = getattr(state, name)
        out[name] = value if value is None or convert is None else convert(value)
    return out


@functools.lru_cache(maxsize=1024)
def _decimal(text: str) -> Decimal:
    # Decimals are immutable: sessions resumed together share their equal values (powers,
    # floors, capacities), about 100 bytes each a session.
    return Decimal(text)


def state_from_json(data: dict[str, Any]) -> SessionState:
    """The state ``state_to_json`` wrote."""
    values: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:
            values[name] = None
        elif name in _DECIMALS:
            values[name] = _decimal(value)
        elif name in _TIMES:
            values[name] = dt.datetime.fromisoformat(value)
        elif name == "version":
            values[name] = Version(value)
        else:
            values[name] = value
    return SessionState(**values)
