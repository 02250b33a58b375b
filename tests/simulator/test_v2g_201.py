"""A simulated V2X EV on OCPP 2.0.1, which defines no discharge: the csms convention
(docs/V2G.md) carries its discharge limits in NotifyEVChargingNeeds ``customData`` and a
TxProfile period's negative ``limit`` discharges it. Against the `ocpp`-package 2.0.1 CSMS."""

from __future__ import annotations

import pytest
from ocpp.v201 import call

from .test_v2g import CAPACITY_WH, INTERVAL, next_samples, plug_in, v2x_station


def negative_limit_profile(tx_id: str, watts: float) -> dict:
    return {
        "id": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "transactionId": tx_id,
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "startSchedule": "2026-01-01T00:00:00Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -watts}],
            }
        ],
    }


async def test_a_201_v2x_ev_announces_discharge_in_custom_data_and_follows_a_negative_limit(
    mock_clock,
):
    """The 2.0.1 convention: needs with a charge-only transfer and ``customData``
    {vendorId org.csms.v2g, dischargeCapable, maxDischargePower, batteryCapacity, evId}; a
    negative TxProfile limit exports that power (register by power x time, SoC by the battery),
    ClearChargingProfile returns the EV to charging."""
    async with v2x_station(mock_clock, version="ocpp2.0.1") as (csms, sim):
        await plug_in(sim)
        tx_id = sim.state.model.evse(1).tx_id
        assert tx_id is not None
        profile = negative_limit_profile(tx_id, 5000.0)
        answer = await csms.command(call.SetChargingProfile(evse_id=1, charging_profile=profile))
        first, second = await next_samples(csms, sim)
        cleared = await csms.command(call.ClearChargingProfile(charging_profile_id=7))
        charging = await next_samples(csms, sim, count=1)
    actions = csms.actions()
    order = ("Authorize", "TransactionEvent", "NotifyEVChargingNeeds")
    assert sorted(order, key=actions.index) == list(order)
    (needs,) = csms.received("NotifyEVChargingNeeds")
    assert needs["chargingNeeds"]["requestedEnergyTransfer"] == "AC_three_phase"
    assert "availableEnergyTransfer" not in needs["chargingNeeds"]  # 2.1 only
    assert needs["customData"] == {
        "vendorId": "org.csms.v2g",
        "dischargeCapable": True,
        "maxDischargePower": 11_000,
        "minDischargePower": 0,
        "batteryCapacity": CAPACITY_WH,
        "evId": "EVCCID0001",
    }
    assert answer.status == "Accepted"
    assert first["Power.Active.Export"] == second["Power.Active.Export"] == 5000
    exported = second["Energy.Active.Export.Register"] - first["Energy.Active.Export.Register"]
    assert exported == pytest.approx(5000 * INTERVAL / 3600, abs=0.002)
    assert first["SoC"] - second["SoC"] == pytest.approx(exported / CAPACITY_WH * 100, abs=0.002)
    assert cleared.status == "Accepted"
    assert (charging[0]["Power.Active.Import"], charging[0]["Power.Active.Export"]) == (22_000, 0)
    assert sim.state.errors == []


async def test_an_unknown_profile_id_is_not_cleared(mock_clock):
    """K10: ClearChargingProfile of a profile id the station does not have answers Unknown and
    leaves the discharge running."""
    async with v2x_station(mock_clock, version="ocpp2.0.1") as (csms, sim):
        await plug_in(sim)
        tx_id = sim.state.model.evse(1).tx_id
        assert tx_id is not None
        profile = negative_limit_profile(tx_id, 4000.0)
        await csms.command(call.SetChargingProfile(evse_id=1, charging_profile=profile))
        cleared = await csms.command(call.ClearChargingProfile(charging_profile_id=8))
        (sample,) = await next_samples(csms, sim, count=1)
    assert cleared.status == "Unknown"
    assert sample["Power.Active.Export"] == 4000
