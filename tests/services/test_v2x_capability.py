"""The EV's V2X capability from NotifyEVChargingNeeds (OCPP 2.1 Q01.FR.03, the 2.0.1
customData convention of docs/V2G.md) and the station's V2XChargingCtrlr support (Q01.FR.30,
K01.FR.115)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from csms.protocol import Direction, Version, validate_payload
from csms.services.v2x_capability import (
    BPT_MODES,
    CHARGING_MODES,
    ENERGY_TRANSFER_MODES,
    StationV2XSupport,
    capability_from_needs,
    capability_to_json,
    station_support_from_variables,
    support_get_variables_request,
)

NEEDS_21 = {
    "evseId": 1,
    "maxScheduleTuples": 12,
    "chargingNeeds": {
        "requestedEnergyTransfer": "DC_BPT",
        "availableEnergyTransfer": ["DC", "DC_BPT"],
        "controlMode": "DynamicControl",
        "mobilityNeedsMode": "EVCC_SECC",
        "departureTime": "2026-03-07T10:00:00Z",
        "dcChargingParameters": {
            "evMaxCurrent": 200,
            "evMaxVoltage": 400,
            "evEnergyCapacity": 60000,
            "stateOfCharge": 64,
        },
        "v2xChargingParameters": {
            "minChargePower": 1000,
            "maxChargePower": 11000,
            "minDischargePower": 1500,
            "maxDischargePower": 7000,
            "evTargetEnergyRequest": 12000,
            "evMinV2XEnergyRequest": -15000,
            "evMaxV2XEnergyRequest": 20000,
            "targetSoC": 80,
        },
    },
}

NEEDS_201 = {
    "evseId": 2,
    "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase",
        "acChargingParameters": {
            "energyAmount": 20000,
            "evMinCurrent": 6,
            "evMaxCurrent": 16,
            "evMaxVoltage": 230,
        },
    },
    "customData": {
        "vendorId": "org.csms.v2g",
        "dischargeCapable": True,
        "maxDischargePower": 7400,
        "minDischargePower": 1000,
        "batteryCapacity": 60000,
        "evId": "WVWZZZ1JZXW000001",
    },
}


def test_the_examples_are_schema_valid_requests():
    """What the tests feed in is what a conformant station sends."""
    validate_payload(Version.V21, "NotifyEVChargingNeeds", Direction.REQUEST, NEEDS_21)
    validate_payload(Version.V201, "NotifyEVChargingNeeds", Direction.REQUEST, NEEDS_201)


def test_a_21_ev_is_read_from_its_v2x_charging_parameters():
    """Q01.FR.03: requestedEnergyTransfer, availableEnergyTransfer, controlMode,
    v2xChargingParameters, departureTime and mobilityNeedsMode."""
    cap = capability_from_needs(NEEDS_21, Version.V21)
    assert cap.source == "v2x_parameters"
    assert cap.evse_id == 1
    assert cap.requested_mode == "DC_BPT"
    assert cap.available_modes == ("DC", "DC_BPT")
    assert cap.bidirectional_requested
    assert cap.bidirectional_available
    assert (cap.min_charge_w, cap.max_charge_w) == (Decimal(1000), Decimal(11000))
    assert (cap.min_discharge_w, cap.max_discharge_w) == (Decimal(1500), Decimal(7000))
    assert cap.energy_request_wh == Decimal(12000)
    assert cap.ev_min_v2x_energy_wh == Decimal(-15000)  # signed: above the V2X minimum
    assert cap.ev_max_v2x_energy_wh == Decimal(20000)
    assert cap.battery_capacity_wh == Decimal(60000)
    assert cap.state_of_charge == Decimal(64)
    assert cap.target_soc == 80
    assert cap.departure_time == dt.datetime(2026, 3, 7, 10, tzinfo=dt.UTC)
    assert (cap.control_mode, cap.mobility_needs_mode) == ("DynamicControl", "EVCC_SECC")
    assert cap.max_schedule_tuples == 12
    assert cap.discharge_phases_reported == (False, False)


def test_phase_values_are_known_only_when_the_ev_reports_them():
    """V2X.08 / K01.FR.142 need to know whether _L2/_L3 were reported."""
    params = {
        **NEEDS_21["chargingNeeds"]["v2xChargingParameters"],
        "maxDischargePower_L2": 2300,
        "maxDischargePower_L3": 2300,
        "maxChargePower_L2": 3700,
    }
    request = {
        **NEEDS_21,
        "chargingNeeds": {**NEEDS_21["chargingNeeds"], "v2xChargingParameters": params},
    }
    validate_payload(Version.V21, "NotifyEVChargingNeeds", Direction.REQUEST, request)
    cap = capability_from_needs(request, Version.V21)
    assert cap.discharge_phases_reported == (True, True)
    assert cap.charge_phases_reported == (True, False)
    assert cap.max_discharge_w_l2 == Decimal(2300)


def test_an_ev_charging_unidirectionally_with_bpt_available_can_renegotiate():
    """Q02: the EV starts in a charging mode and lists a BPT mode as available."""
    needs = {
        **NEEDS_21["chargingNeeds"],
        "requestedEnergyTransfer": "DC",
        "availableEnergyTransfer": ["DC", "DC_BPT"],
    }
    cap = capability_from_needs({**NEEDS_21, "chargingNeeds": needs}, Version.V21)
    assert not cap.bidirectional_requested
    assert cap.bidirectional_available


def test_a_21_ev_without_v2x_parameters_is_declared_charge_only():
    request = {
        "evseId": 3,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_single_phase",
            "acChargingParameters": {
                "energyAmount": 8000,
                "evMinCurrent": 6,
                "evMaxCurrent": 32,
                "evMaxVoltage": 230,
            },
        },
    }
    cap = capability_from_needs(request, Version.V21)
    assert cap.source == "declared"
    assert cap.available_modes == ("AC_single_phase",)
    assert not cap.bidirectional_available
    assert cap.max_charge_w == Decimal(32 * 230)  # one phase
    assert cap.energy_request_wh == Decimal(8000)


def test_a_201_ev_follows_the_custom_data_convention():
    """docs/V2G.md "OCPP 2.0.1": customData vendorId org.csms.v2g, dischargeCapable and
    maxDischargePower make the EV bidirectional."""
    cap = capability_from_needs(NEEDS_201, Version.V201)
    assert cap.source == "custom_data"
    assert cap.bidirectional_requested
    assert cap.max_discharge_w == Decimal(7400)
    assert cap.min_discharge_w == Decimal(1000)
    assert cap.battery_capacity_wh == Decimal(60000)
    assert cap.ev_id == "WVWZZZ1JZXW000001"
    assert cap.max_charge_w == Decimal(16 * 230 * 3)  # three phases
    assert cap.energy_request_wh == Decimal(20000)


def test_custom_data_inside_charging_needs_is_read_too():
    needs = {**NEEDS_201["chargingNeeds"], "customData": NEEDS_201["customData"]}
    request = {"evseId": 2, "chargingNeeds": needs}
    validate_payload(Version.V201, "NotifyEVChargingNeeds", Direction.REQUEST, request)
    assert capability_from_needs(request, Version.V201).bidirectional_requested


@pytest.mark.parametrize(
    "custom",
    [
        None,
        {"vendorId": "com.other", "dischargeCapable": True, "maxDischargePower": 7400},
        {"vendorId": "org.csms.v2g", "dischargeCapable": False, "maxDischargePower": 7400},
        {"vendorId": "org.csms.v2g", "dischargeCapable": True},  # no limit: cannot command
        {"vendorId": "org.csms.v2g", "dischargeCapable": "yes", "maxDischargePower": 7400},
    ],
)
def test_a_201_ev_without_the_convention_is_charge_only(custom):
    request = {k: v for k, v in NEEDS_201.items() if k != "customData"}
    if custom is not None:
        request["customData"] = custom
    cap = capability_from_needs(request, Version.V201)
    assert not cap.bidirectional_requested
    assert not cap.bidirectional_available


def test_v2x_parameters_are_not_read_from_a_201_station():
    """2.0.1 has no v2xChargingParameters; only the convention counts."""
    request = {k: v for k, v in NEEDS_21.items()}
    cap = capability_from_needs(request, Version.V201)
    assert cap.source == "declared"
    assert cap.max_discharge_w is None


def test_a_request_without_needs_is_refused():
    with pytest.raises(TypeError, match="requestedEnergyTransfer"):
        capability_from_needs({"evseId": 1}, Version.V21)
    with pytest.raises(TypeError, match="evseId"):
        capability_from_needs({"chargingNeeds": {"requestedEnergyTransfer": "DC"}}, Version.V21)


def test_the_capability_json_says_what_the_ev_reported():
    body = capability_to_json(capability_from_needs(NEEDS_21, Version.V21))
    assert body["bidirectional"] is True
    assert body["maxDischargePowerW"] == 7000
    assert body["departureTime"] == "2026-03-07T10:00:00+00:00"
    assert body["phaseValuesReported"]["maxDischargePower_L2"] is False


def test_mode_lists_split_the_schema_enum():
    assert set(CHARGING_MODES) | BPT_MODES == set(ENERGY_TRANSFER_MODES)
    assert not set(CHARGING_MODES) & BPT_MODES


# -- the station ------------------------------------------------------------------------------


def result(name: str, value: str, status: str = "Accepted") -> dict:
    return {
        "attributeStatus": status,
        "component": {"name": "V2XChargingCtrlr"},
        "variable": {"name": name},
        "attributeValue": value,
    }


def test_the_get_variables_request_reads_enabled_and_modes():
    """Q01.FR.30: the station reports its modes in V2XChargingCtrlr.SupportedOperationModes."""
    request = support_get_variables_request()
    validate_payload(Version.V21, "GetVariables", Direction.REQUEST, request)
    names = [d["variable"]["name"] for d in request["getVariableData"]]
    assert names == ["Enabled", "SupportedOperationModes"]


def test_a_station_listing_central_setpoint_is_v2x_capable():
    results = [
        result("Enabled", "true"),
        result("SupportedOperationModes", "ChargingOnly,CentralSetpoint, CentralFrequency,Bogus"),
    ]
    response = {"getVariableResult": results}
    validate_payload(Version.V21, "GetVariables", Direction.RESPONSE, response)
    support = station_support_from_variables(results)
    assert support.enabled is True
    assert support.operation_modes == {"ChargingOnly", "CentralSetpoint", "CentralFrequency"}
    assert support.v2x_capable(Version.V21)
    assert support.supports("CentralSetpoint")
    assert not support.supports("LocalFrequency")  # K01.FR.115: never send an unlisted mode
    assert not support.idle_supported


@pytest.mark.parametrize(
    "results",
    [
        [result("Enabled", "false"), result("SupportedOperationModes", "CentralSetpoint")],
        [result("Enabled", "true"), result("SupportedOperationModes", "ChargingOnly")],
        [result("Enabled", "true", "UnknownVariable"), result("SupportedOperationModes", "x")],
        [],
    ],
)
def test_a_station_without_enabled_central_setpoint_is_not_v2x_capable(results):
    support = station_support_from_variables(results)
    assert support.known
    assert not support.v2x_capable(Version.V21)


def test_chargingonly_is_always_allowed():
    """K01.FR.115 exempts ChargingOnly."""
    assert StationV2XSupport().supports("ChargingOnly")


def test_201_stations_are_capable_only_when_declared():
    assert StationV2XSupport(declared_bidirectional=True).v2x_capable(Version.V201)
    assert not StationV2XSupport(
        enabled=True, operation_modes=frozenset({"CentralSetpoint"})
    ).v2x_capable(Version.V201)


def test_support_is_unknown_until_read_unless_declared():
    """Q01.FR.08: before the variables are read csms cannot decide, unless registered
    bidirectional."""
    assert not StationV2XSupport().known
    declared = StationV2XSupport(declared_bidirectional=True)
    assert declared.known
    assert declared.v2x_capable(Version.V21)
    assert not declared.supports("CentralSetpoint")  # still never sent before it is listed


@pytest.mark.parametrize(
    ("mode", "current", "voltage", "watts"),
    [
        ("AC_three_phase", 16, 400, 16 * 230 * 3),  # 400 V line to line: 11 040 W, not 19 200
        ("AC_three_phase", 16, 230, 16 * 230 * 3),
        ("AC_two_phase", 32, 480, 32 * 230 * 2),
        ("AC_single_phase", 32, 240, 32 * 230),
        ("AC_single_phase", 16, 127, 16 * 127),  # an EV whose maximum is below 230 V
    ],
)
def test_an_ac_evs_power_is_per_phase_current_at_the_phase_voltage(mode, current, voltage, watts):
    """ACChargingParametersType (2.0.1 Part 2, 2.1): evMaxCurrent is per phase, evMaxVoltage is
    the EV's maximum voltage, not its phase voltage: the power is the current at the nominal
    230 V phase voltage (or evMaxVoltage when lower) over each phase (docs/V2G.md)."""
    request = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": mode,
            "acChargingParameters": {
                "energyAmount": 10000,
                "evMinCurrent": 6,
                "evMaxCurrent": current,
                "evMaxVoltage": voltage,
            },
        },
    }
    assert capability_from_needs(request, Version.V201).max_charge_w == Decimal(watts)
