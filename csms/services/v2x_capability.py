"""What an EV can do (from its NotifyEVChargingNeeds) and what a station supports (pure).

**OCPP 2.1** (Part 2 block Q): the EV's capability is read from ``chargingNeeds``:
``requestedEnergyTransfer`` and ``availableEnergyTransfer`` (bidirectional = one of the BPT
modes ``AC_BPT``, ``AC_BPT_DER``, ``DC_BPT``, ``DC_ACDP_BPT``), ``v2xChargingParameters``
(min/max charge and discharge power, with their ``_L2``/``_L3`` variants, V2X energy
requests, ``targetSoC``), ``controlMode``, ``mobilityNeedsMode`` and ``departureTime``
(Q01.FR.03). The station's support is ``V2XChargingCtrlr.Enabled`` and
``V2XChargingCtrlr.SupportedOperationModes`` (Q01.FR.30), read with GetVariables.

**OCPP 2.0.1** defines no discharge. The convention (docs/V2G.md "OCPP 2.0.1"): a station is
bidirectional when registered with ``bidirectional: true``, and the EV's discharge limits come
in the request's ``customData``::

    {"vendorId": "org.csms.v2g", "dischargeCapable": true, "maxDischargePower": 7400,
     "minDischargePower": 1000, "batteryCapacity": 60000, "evId": "WVWZZZ..."}

(``customData`` of ``chargingNeeds`` is read too when the request's has none). Without it, or
on a station not declared bidirectional, the EV is charge-only.

Power is in W and positive (magnitudes: the sign convention of section 2.1 applies to
setpoints and limits, not to these ratings), energy in Wh, SoC in percent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal

import attrs

from csms.protocol import Version, parse_datetime

from ._v2g_json import decimal_or_none, json_number

__all__ = [
    "BPT_MODES",
    "CHARGING_MODES",
    "CUSTOM_DATA_VENDOR",
    "ENERGY_TRANSFER_MODES",
    "OPERATION_MODES",
    "V2X_COMPONENT",
    "CapabilitySource",
    "EVCapability",
    "StationV2XSupport",
    "capability_from_needs",
    "capability_to_json",
    "station_support_from_variables",
    "support_get_variables_request",
]

#: Bidirectional power transfer modes (2.1 EnergyTransferModeEnumType).
BPT_MODES: Final = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})
#: Every energy transfer mode of 2.1, in the schema's order.
ENERGY_TRANSFER_MODES: Final = (
    "AC_single_phase",
    "AC_two_phase",
    "AC_three_phase",
    "DC",
    "AC_BPT",
    "AC_BPT_DER",
    "AC_DER",
    "DC_BPT",
    "DC_ACDP",
    "DC_ACDP_BPT",
    "WPT",
)
CHARGING_MODES: Final = tuple(m for m in ENERGY_TRANSFER_MODES if m not in BPT_MODES)
OPERATION_MODES: Final = frozenset(
    {
        "Idle",
        "ChargingOnly",
        "CentralSetpoint",
        "ExternalSetpoint",
        "ExternalLimits",
        "CentralFrequency",
        "LocalFrequency",
        "LocalLoadBalancing",
    }
)
CUSTOM_DATA_VENDOR: Final = "org.csms.v2g"
V2X_COMPONENT: Final = "V2XChargingCtrlr"

CapabilitySource = Literal["v2x_parameters", "custom_data", "declared"]

_PHASES: Final = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}
#: The nominal phase (line-to-neutral) voltage, IEC 60038: an AC EV's power is per-phase
#: current times this, never more than its evMaxVoltage.
NOMINAL_PHASE_VOLTAGE: Final = Decimal(230)


@attrs.frozen(kw_only=True)
class EVCapability:
    """One EV at one EVSE, as its latest charging needs describe it.

    ``source``: ``v2x_parameters`` (2.1 ``v2xChargingParameters``), ``custom_data`` (the
    2.0.1 convention) or ``declared`` (only the AC/DC parameters every EV declares: no
    discharge information, so charge-only).
    """

    evse_id: int
    requested_mode: str
    available_modes: tuple[str, ...]
    source: CapabilitySource
    discharge_capable: bool = False  # 2.0.1 customData dischargeCapable
    min_charge_w: Decimal | None = None
    max_charge_w: Decimal | None = None
    max_charge_w_l2: Decimal | None = None
    max_charge_w_l3: Decimal | None = None
    min_discharge_w: Decimal | None = None
    max_discharge_w: Decimal | None = None
    max_discharge_w_l2: Decimal | None = None
    max_discharge_w_l3: Decimal | None = None
    energy_request_wh: Decimal | None = None  # evTargetEnergyRequest / energyAmount
    ev_min_v2x_energy_wh: Decimal | None = None
    ev_max_v2x_energy_wh: Decimal | None = None
    battery_capacity_wh: Decimal | None = None
    state_of_charge: Decimal | None = None
    target_soc: int | None = None
    departure_time: dt.datetime | None = None
    control_mode: str | None = None
    mobility_needs_mode: str | None = None
    max_schedule_tuples: int | None = None
    ev_id: str | None = None

    @property
    def bidirectional_requested(self) -> bool:
        """The EV asked for a bidirectional transfer now (2.1), or declared discharge by the
        2.0.1 convention."""
        if self.source == "custom_data":
            return self.discharge_capable
        return self.requested_mode in BPT_MODES

    @property
    def bidirectional_available(self) -> bool:
        """The EV can discharge, possibly after a renegotiation (Q02)."""
        return self.bidirectional_requested or any(m in BPT_MODES for m in self.available_modes)

    @property
    def discharge_phases_reported(self) -> tuple[bool, bool]:
        """Whether the EV reported maxDischargePower_L2 / _L3 (V2X.08)."""
        return self.max_discharge_w_l2 is not None, self.max_discharge_w_l3 is not None

    @property
    def charge_phases_reported(self) -> tuple[bool, bool]:
        """Whether the EV reported maxChargePower_L2 / _L3 (K01.FR.142)."""
        return self.max_charge_w_l2 is not None, self.max_charge_w_l3 is not None


@attrs.frozen(kw_only=True)
class StationV2XSupport:
    """What a station supports: its ``V2XChargingCtrlr`` variables (2.1; None while not yet
    read) and its registration's ``bidirectional`` declaration (2.0.1 convention)."""

    enabled: bool | None = None
    operation_modes: frozenset[str] = frozenset()
    declared_bidirectional: bool = False

    @property
    def known(self) -> bool:
        """Whether csms knows enough to decide (Q01.FR.08: otherwise it cannot)."""
        return self.enabled is not None or self.declared_bidirectional

    def v2x_capable(self, version: Version) -> bool:
        """2.1: ``Enabled`` is true and ``CentralSetpoint`` is listed (the only mode csms
        commands), or the station is declared bidirectional; 2.0.1: declared only."""
        if version is Version.V201:
            return self.declared_bidirectional
        if self.declared_bidirectional and self.enabled is None:
            return True
        return bool(self.enabled) and "CentralSetpoint" in self.operation_modes

    def supports(self, operation_mode: str) -> bool:
        """Whether csms may send ``operation_mode`` (K01.FR.115: ChargingOnly always; any
        other only when the station lists it)."""
        return operation_mode == "ChargingOnly" or operation_mode in self.operation_modes

    @property
    def idle_supported(self) -> bool:
        return "Idle" in self.operation_modes


# -- reading the needs -----------------------------------------------------------------------


def _magnitude(value: Any) -> Decimal | None:
    number = decimal_or_none(value)
    return None if number is None else abs(number)


def _custom_data(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for holder in (request, request.get("chargingNeeds") or {}):
        data = holder.get("customData")
        if isinstance(data, Mapping) and data.get("vendorId") == CUSTOM_DATA_VENDOR:
            return data
    return None


def _ac_power(needs: Mapping[str, Any], mode: str) -> Decimal | None:
    """An AC EV's maximum power: evMaxCurrent x phase voltage x phases; None when it did not
    say. ACChargingParametersType gives evMaxCurrent per phase but evMaxVoltage as the
    highest voltage the EV supports, not the voltage of each phase (a three-phase EV states
    400 V, line to line): the phase voltage is the nominal 230 V, or evMaxVoltage if lower."""
    ac = needs.get("acChargingParameters")
    if not isinstance(ac, Mapping):
        return None
    current, voltage = (
        decimal_or_none(ac.get("evMaxCurrent")),
        decimal_or_none(ac.get("evMaxVoltage")),
    )
    if current is None or voltage is None:
        return None
    phase_voltage = min(abs(voltage), NOMINAL_PHASE_VOLTAGE)
    return abs(current) * phase_voltage * _PHASES.get(mode, 1)


def capability_from_needs(request: Mapping[str, Any], version: Version) -> EVCapability:
    """The EV's capability from a NotifyEVChargingNeedsRequest payload (schema-valid JSON).

    ``TypeError`` when the payload lacks ``evseId`` or ``chargingNeeds.requestedEnergyTransfer``
    (a schema-valid request has both).
    """
    needs = request.get("chargingNeeds")
    if not isinstance(needs, Mapping) or not isinstance(needs.get("requestedEnergyTransfer"), str):
        raise TypeError("chargingNeeds.requestedEnergyTransfer is required")
    evse_id = request.get("evseId")
    if not isinstance(evse_id, int) or isinstance(evse_id, bool):
        raise TypeError("evseId is required")
    mode: str = needs["requestedEnergyTransfer"]
    available = needs.get("availableEnergyTransfer")
    modes = tuple(m for m in available if isinstance(m, str)) if isinstance(available, list) else ()
    ac = needs.get("acChargingParameters") or {}
    dc = needs.get("dcChargingParameters") or {}
    departure = needs.get("departureTime")
    base: dict[str, Any] = {
        "evse_id": evse_id,
        "requested_mode": mode,
        "available_modes": modes or (mode,),
        "max_charge_w": _magnitude(dc.get("evMaxPower")) or _ac_power(needs, mode),
        "energy_request_wh": _magnitude(ac.get("energyAmount") or dc.get("energyAmount")),
        "battery_capacity_wh": _magnitude(dc.get("evEnergyCapacity")),
        "state_of_charge": decimal_or_none(dc.get("stateOfCharge")),
        "departure_time": parse_datetime(departure) if isinstance(departure, str) else None,
        "max_schedule_tuples": request.get("maxScheduleTuples"),
    }
    v2x = needs.get("v2xChargingParameters")
    if version is Version.V21 and isinstance(v2x, Mapping):
        target = v2x.get("targetSoC")
        return EVCapability(
            **{
                **base,
                "source": "v2x_parameters",
                "min_charge_w": _magnitude(v2x.get("minChargePower")),
                "max_charge_w": _magnitude(v2x.get("maxChargePower")) or base["max_charge_w"],
                "max_charge_w_l2": _magnitude(v2x.get("maxChargePower_L2")),
                "max_charge_w_l3": _magnitude(v2x.get("maxChargePower_L3")),
                "min_discharge_w": _magnitude(v2x.get("minDischargePower")),
                "max_discharge_w": _magnitude(v2x.get("maxDischargePower")),
                "max_discharge_w_l2": _magnitude(v2x.get("maxDischargePower_L2")),
                "max_discharge_w_l3": _magnitude(v2x.get("maxDischargePower_L3")),
                "energy_request_wh": (
                    _magnitude(v2x.get("evTargetEnergyRequest")) or base["energy_request_wh"]
                ),
                # Signed on purpose: > 0 means the SoC is below the V2X range.
                "ev_min_v2x_energy_wh": decimal_or_none(v2x.get("evMinV2XEnergyRequest")),
                "ev_max_v2x_energy_wh": decimal_or_none(v2x.get("evMaxV2XEnergyRequest")),
                "target_soc": target if isinstance(target, int) else None,
                "control_mode": needs.get("controlMode"),
                "mobility_needs_mode": needs.get("mobilityNeedsMode"),
            }
        )
    custom = _custom_data(request)
    if custom is not None and custom.get("dischargeCapable") is True:
        ev_id = custom.get("evId")
        return EVCapability(
            **{
                **base,
                "source": "custom_data",
                "discharge_capable": _magnitude(custom.get("maxDischargePower")) is not None,
                "max_discharge_w": _magnitude(custom.get("maxDischargePower")),
                "min_discharge_w": _magnitude(custom.get("minDischargePower")),
                "battery_capacity_wh": (
                    _magnitude(custom.get("batteryCapacity")) or base["battery_capacity_wh"]
                ),
                "ev_id": ev_id if isinstance(ev_id, str) and ev_id else None,
            }
        )
    return EVCapability(**{**base, "source": "declared"})


def _number(value: Decimal | None) -> int | float | None:
    return None if value is None else json_number(value)


def capability_to_json(cap: EVCapability) -> dict[str, Any]:
    """The capability as the REST API shows it (camelCase, W / Wh / %, ISO times)."""
    number = _number
    return {
        "evseId": cap.evse_id,
        "evId": cap.ev_id,
        "source": cap.source,
        "bidirectional": cap.bidirectional_available,
        "bidirectionalRequested": cap.bidirectional_requested,
        "requestedEnergyTransfer": cap.requested_mode,
        "availableEnergyTransfer": list(cap.available_modes),
        "minChargePowerW": number(cap.min_charge_w),
        "maxChargePowerW": number(cap.max_charge_w),
        "minDischargePowerW": number(cap.min_discharge_w),
        "maxDischargePowerW": number(cap.max_discharge_w),
        "phaseValuesReported": {
            "maxChargePower_L2": cap.max_charge_w_l2 is not None,
            "maxChargePower_L3": cap.max_charge_w_l3 is not None,
            "maxDischargePower_L2": cap.max_discharge_w_l2 is not None,
            "maxDischargePower_L3": cap.max_discharge_w_l3 is not None,
        },
        "energyRequestWh": number(cap.energy_request_wh),
        "evMinV2XEnergyRequestWh": number(cap.ev_min_v2x_energy_wh),
        "evMaxV2XEnergyRequestWh": number(cap.ev_max_v2x_energy_wh),
        "batteryCapacityWh": number(cap.battery_capacity_wh),
        "stateOfCharge": number(cap.state_of_charge),
        "targetSoC": cap.target_soc,
        "departureTime": None if cap.departure_time is None else cap.departure_time.isoformat(),
        "controlMode": cap.control_mode,
        "mobilityNeedsMode": cap.mobility_needs_mode,
    }


# -- the station's V2XChargingCtrlr ----------------------------------------------------------


def support_get_variables_request() -> dict[str, Any]:
    """The GetVariablesRequest that reads ``V2XChargingCtrlr.Enabled`` and
    ``SupportedOperationModes`` (Q01.FR.30), sent after BootNotification."""
    return {
        "getVariableData": [
            {"component": {"name": V2X_COMPONENT}, "variable": {"name": name}}
            for name in ("Enabled", "SupportedOperationModes")
        ]
    }


def station_support_from_variables(
    results: Iterable[Mapping[str, Any]], *, declared_bidirectional: bool = False
) -> StationV2XSupport:
    """The support a GetVariablesResponse's ``getVariableResult`` list reports.

    A variable the station rejects or does not know leaves the default (not enabled, no
    modes): a station that does not report V2X support is not V2X-capable. Unknown mode names
    in the MemberList are dropped, so csms never sends them.
    """
    enabled = False
    modes: frozenset[str] = frozenset()
    for result in results:
        if result.get("component", {}).get("name") != V2X_COMPONENT:
            continue
        if result.get("attributeStatus") != "Accepted":
            continue
        value = result.get("attributeValue")
        if not isinstance(value, str):
            continue
        name = result.get("variable", {}).get("name")
        if name == "Enabled":
            enabled = value.strip().lower() == "true"
        elif name == "SupportedOperationModes":
            modes = frozenset(m.strip() for m in value.split(",")) & OPERATION_MODES
    return StationV2XSupport(
        enabled=enabled, operation_modes=modes, declared_bidirectional=declared_bidirectional
    )
