"""A simulated V2X EV on OCPP 2.1 (block Q, K01, K28) against a tiny `ocpp`-package CSMS over
real WebSockets. The package validates every CALL the station sends against the official
schemas (a CALLERROR would land in ``state.errors``, which stays empty) and every response.

Time is trio's MockClock, jumping whenever everything waits: each meter interval is exactly
``INTERVAL`` seconds of it, so energies are power x time with no tolerance but rounding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from ocpp.v21 import call as call21

from csms.protocol import Version
from csms.simulator import Ev, Simulator, StationConfig, open_simulator
from csms.simulator import _commands as cmd

from .v2g_csms import FakeCsms, fake_csms, sampled

INTERVAL = 60.0  # seconds between meter values
CAPACITY_WH = 60_000.0  # large: the clock's jumps never bring it near full or its floor
SOC = 50.0
PROFILE_ID = 41
RATE_CHANGED = "ChargingRateChanged"


def v2x_config(url: str, version: Version, **changes: Any) -> StationConfig:
    ev = Ev(
        soc=SOC,
        battery_kwh=CAPACITY_WH / 1000,
        v2g=True,
        discharge_kw=11.0,
        charge_kw=22.0,
        min_soc=20.0,
        ev_id="EVCCID0001",
    )
    return StationConfig(
        station_id="EV1",
        server=url,
        version=version,
        ev=ev,
        meter_interval=INTERVAL,
        response_timeout=1e9,  # virtual seconds: the clock may jump while the CSMS answers
        **changes,
    )


@contextlib.asynccontextmanager
async def v2x_station(
    mock_clock: Any, *, version: str = "ocpp2.1", allowed: list[str] | None = None, **config: Any
) -> AsyncIterator[tuple[FakeCsms, Simulator]]:
    """The fake CSMS and a V2X station booted against it."""
    mock_clock.autojump_threshold = 0.2  # the clock jumps once everything waited that long
    async with fake_csms(version) as csms:
        csms.configure(allowed=allowed)
        ocpp_version = Version.V21 if version == "ocpp2.1" else Version.V201
        async with open_simulator(v2x_config(csms.url, ocpp_version, **config)) as sim:
            with trio.fail_after(100_000):  # virtual seconds: a hang fails instead
                await sim.state.wait_for(lambda: sim.state.online)
                yield csms, sim


def updates(csms: FakeCsms, trigger: str = "MeterValuePeriodic") -> list[dict[str, float]]:
    """The samples of the TransactionEvents Updated with ``trigger`` the CSMS received."""
    events = csms.received("TransactionEvent")
    return [
        sampled(e) for e in events if e["eventType"] == "Updated" and e["triggerReason"] == trigger
    ]


async def next_samples(csms: FakeCsms, sim: Simulator, count: int = 2) -> list[dict[str, float]]:
    """The next ``count`` periodic meter samples the CSMS gets, all taken from now on."""
    state = sim.state
    # Every earlier sample is either received or still queued (unacknowledged) by now.
    skip = len(updates(csms)) + len(state.queue)
    await state.wait_for(lambda: len(updates(csms)) >= skip + count)
    return updates(csms)[skip : skip + count]


async def plug_in(sim: Simulator) -> str:
    reply: str = await sim.ref.ask(cmd.StartCharging(1), timeout=None)
    state = sim.state
    await state.wait_for(lambda: state.sent["NotifyEVChargingNeeds"] >= 1)
    return reply


def discharge_profile(tx_id: str, setpoint: float, mode: str = "CentralSetpoint") -> dict:
    return {
        "id": PROFILE_ID,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Dynamic",
        "transactionId": tx_id,
        "maxOfflineDuration": 300,
        "invalidAfterOfflineDuration": True,
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "operationMode": mode, "setpoint": setpoint}
                ],
            }
        ],
    }


async def test_a_v2x_ev_announces_bidirectional_needs_after_authorize_and_start(mock_clock):
    """Q01.FR.02/03: Authorize (EVCCID in additionalInfo), TransactionEvent Started, then
    NotifyEVChargingNeeds with the BPT mode the CSMS allowed, the available transfers,
    v2xChargingParameters, controlMode and departureTime."""
    async with v2x_station(mock_clock, allowed=["AC_three_phase", "AC_BPT"]) as (csms, sim):
        reply = await plug_in(sim)
    assert "requesting AC_BPT" in reply
    actions = csms.actions()
    order = ("Authorize", "TransactionEvent", "NotifyEVChargingNeeds")
    assert sorted(order, key=actions.index) == list(order)
    (authorize,) = csms.received("Authorize")
    evccid = {"additionalIdToken": "EVCCID0001", "type": "EVCCID"}
    assert authorize["idToken"]["additionalInfo"] == [evccid]
    started = csms.received("TransactionEvent")[0]
    assert started["eventType"] == "Started"
    assert started["idToken"]["additionalInfo"] == [evccid]
    (needs,) = csms.received("NotifyEVChargingNeeds")
    assert needs["evseId"] == 1
    charging = needs["chargingNeeds"]
    assert charging["requestedEnergyTransfer"] == "AC_BPT"
    assert charging["availableEnergyTransfer"] == ["AC_three_phase", "AC_BPT"]
    assert charging["controlMode"] == "ScheduledControl"
    departure = dt.datetime.fromisoformat(charging["departureTime"])
    assert departure - dt.datetime.fromisoformat(started["timestamp"]) == dt.timedelta(hours=8)
    v2x = charging["v2xChargingParameters"]
    assert (v2x["maxChargePower"], v2x["maxDischargePower"]) == (22_000, 11_000)
    assert v2x["evMinV2XEnergyRequest"] == (20 - SOC) / 100 * CAPACITY_WH  # above its floor
    assert v2x["evMaxV2XEnergyRequest"] == (90 - SOC) / 100 * CAPACITY_WH
    assert v2x["targetSoC"] == 80
    assert sim.state.errors == []


async def test_a_central_setpoint_discharges_a_dynamic_update_changes_it_a_clear_charges(
    mock_clock,
):
    """Q03.FR.01/Q04: a CentralSetpoint period with a negative setpoint exports that power
    (the export register grows by power x time, the SoC falls by that over the battery);
    UpdateDynamicSchedule changes the setpoint at once (K28.FR.06), and is Rejected for a
    profile the station does not have (K28.FR.11); ClearChargingProfile returns the EV to
    charging."""
    async with v2x_station(mock_clock, allowed=["AC_BPT"]) as (csms, sim):
        await plug_in(sim)
        tx_id = sim.state.model.evse(1).tx_id
        assert tx_id is not None
        set_profile = call21.SetChargingProfile(
            evse_id=1, charging_profile=discharge_profile(tx_id, -7000.0)
        )
        assert (await csms.command(set_profile)).status == "Accepted"
        first, second = await next_samples(csms, sim)
        update = call21.UpdateDynamicSchedule(
            charging_profile_id=PROFILE_ID, schedule_update={"setpoint": -3000.0}
        )
        assert (await csms.command(update)).status == "Accepted"
        slower = await next_samples(csms, sim)
        unknown = call21.UpdateDynamicSchedule(
            charging_profile_id=PROFILE_ID + 1, schedule_update={"setpoint": -1000.0}
        )
        refused = await csms.command(unknown)
        clear = call21.ClearChargingProfile(charging_profile_id=PROFILE_ID)
        assert (await csms.command(clear)).status == "Accepted"
        charging = await next_samples(csms, sim)
    assert first["Power.Active.Export"] == second["Power.Active.Export"] == 7000
    assert first["Power.Active.Import"] == 0
    exported = second["Energy.Active.Export.Register"] - first["Energy.Active.Export.Register"]
    assert exported == pytest.approx(7000 * INTERVAL / 3600, abs=0.002)
    assert first["SoC"] - second["SoC"] == pytest.approx(exported / CAPACITY_WH * 100, abs=0.002)
    assert second["Energy.Active.Import.Register"] == first["Energy.Active.Import.Register"]
    a, b = slower
    assert a["Power.Active.Export"] == b["Power.Active.Export"] == 3000
    exported = b["Energy.Active.Export.Register"] - a["Energy.Active.Export.Register"]
    assert exported == pytest.approx(3000 * INTERVAL / 3600, abs=0.002)
    assert refused.status == "Rejected"
    assert refused.status_info["reason_code"] == "InvalidProfile"
    a, b = charging
    assert (a["Power.Active.Import"], a["Power.Active.Export"]) == (22_000, 0)
    assert b["Energy.Active.Export.Register"] == a["Energy.Active.Export.Register"]
    imported = b["Energy.Active.Import.Register"] - a["Energy.Active.Import.Register"]
    assert imported == pytest.approx(22_000 * INTERVAL / 3600, abs=0.002)
    assert b["SoC"] > a["SoC"]
    assert sim.state.errors == []


async def test_a_21_ev_reports_each_rate_change_a_command_makes(mock_clock):
    """OCPP 2.1 TriggerReason ChargingRateChanged: when a SetChargingProfile,
    UpdateDynamicSchedule or ClearChargingProfile changes the EV's power, it sends a
    TransactionEvent Updated with that trigger and the new power at once (acknowledged before
    the next periodic sample); a profile that leaves the power as it was sends none."""
    async with v2x_station(mock_clock, allowed=["AC_BPT"]) as (csms, sim):
        await plug_in(sim)
        state = sim.state
        tx_id = state.model.evse(1).tx_id
        assert tx_id is not None

        async def command(payload) -> dict[str, float]:
            before = len(updates(csms, RATE_CHANGED))
            assert (await csms.command(payload)).status == "Accepted"
            await state.wait_for(lambda: state.settled)
            return updates(csms, RATE_CHANGED)[before:]

        discharge = discharge_profile(tx_id, -7000.0)
        (started,) = await command(call21.SetChargingProfile(evse_id=1, charging_profile=discharge))
        assert (started["Power.Active.Export"], started["Power.Active.Import"]) == (7000, 0)
        assert await command(call21.SetChargingProfile(evse_id=1, charging_profile=discharge)) == []
        update = {"setpoint": -3000.0}
        (slower,) = await command(
            call21.UpdateDynamicSchedule(charging_profile_id=PROFILE_ID, schedule_update=update)
        )
        assert slower["Power.Active.Export"] == 3000
        (charging,) = await command(call21.ClearChargingProfile(charging_profile_id=PROFILE_ID))
        assert (charging["Power.Active.Import"], charging["Power.Active.Export"]) == (22_000, 0)
        assert state.sent[f"TransactionEvent/{RATE_CHANGED}"] == 3
    assert sim.state.errors == []


async def test_an_operation_mode_the_station_did_not_list_is_rejected(mock_clock):
    """K01.FR.115: a period whose operationMode is not in
    V2XChargingCtrlr.SupportedOperationModes (Q01.FR.30, read by GetVariables) is Rejected
    with reasonCode InvalidOperationMode, and the EV keeps charging; a listed one is taken."""
    modes = ("ChargingOnly", "CentralSetpoint", "ExternalSetpoint")
    async with v2x_station(mock_clock, allowed=["AC_BPT"], operation_modes=modes) as (csms, sim):
        await plug_in(sim)
        variables = call21.GetVariables(
            get_variable_data=[
                {"component": {"name": "V2XChargingCtrlr"}, "variable": {"name": name}}
                for name in ("Enabled", "SupportedOperationModes")
            ]
        )
        read = await csms.command(variables)
        tx_id = sim.state.model.evse(1).tx_id
        assert tx_id is not None
        unlisted = discharge_profile(tx_id, -5000.0, mode="CentralFrequency")
        refused = await csms.command(
            call21.SetChargingProfile(evse_id=1, charging_profile=unlisted)
        )
        still_charging = await next_samples(csms, sim, count=1)
        listed = discharge_profile(tx_id, -5000.0, mode="ExternalSetpoint")
        taken = await csms.command(call21.SetChargingProfile(evse_id=1, charging_profile=listed))
        discharging = await next_samples(csms, sim, count=1)
    values = [r["attribute_value"] for r in read.get_variable_result]
    assert values == ["true", "ChargingOnly,CentralSetpoint,ExternalSetpoint"]
    assert refused.status == "Rejected"
    assert refused.status_info["reason_code"] == "InvalidOperationMode"
    assert still_charging[0]["Power.Active.Import"] == 22_000
    assert taken.status == "Accepted"
    assert discharging[0]["Power.Active.Export"] == 5000
    assert sim.state.errors == []


async def test_remote_start_charges_only_until_v2x_is_allowed_then_renegotiates(mock_clock):
    """Q02.FR.04: without an allowed list (a remote start has no AuthorizeResponse) the EV asks
    for its charge-only transfer and lists its BPT mode as available; Q02.FR.06/07: a
    NotifyAllowedEnergyTransfer with the BPT mode is Accepted and followed by fresh needs
    requesting it. One for a transaction the station does not have is Rejected."""
    async with v2x_station(mock_clock) as (csms, sim):
        state = sim.state
        start = call21.RequestStartTransaction(
            id_token={"id_token": "DRIVER1", "type": "ISO14443"}, remote_start_id=7, evse_id=1
        )
        started = await csms.command(start)
        await state.wait_for(lambda: state.sent["NotifyEVChargingNeeds"] >= 1)
        allow = call21.NotifyAllowedEnergyTransfer(
            transaction_id=started.transaction_id,
            allowed_energy_transfer=["AC_three_phase", "AC_BPT"],
        )
        accepted = await csms.command(allow)
        await state.wait_for(lambda: state.sent["NotifyEVChargingNeeds"] >= 2)
        elsewhere = call21.NotifyAllowedEnergyTransfer(
            transaction_id="no-such-transaction", allowed_energy_transfer=["AC_BPT"]
        )
        rejected = await csms.command(elsewhere)
    assert started.status == "Accepted"
    assert csms.received("Authorize") == []
    first, renegotiated = csms.received("NotifyEVChargingNeeds")
    assert first["chargingNeeds"]["requestedEnergyTransfer"] == "AC_three_phase"
    assert first["chargingNeeds"]["availableEnergyTransfer"] == ["AC_three_phase", "AC_BPT"]
    assert accepted.status == "Accepted"
    assert renegotiated["chargingNeeds"]["requestedEnergyTransfer"] == "AC_BPT"
    assert rejected.status == "Rejected"
    assert state.errors == []


async def test_rejected_needs_renegotiate_charge_only_then_end_the_transaction(mock_clock):
    """Q01.FR.05: a Rejected BPT request is renegotiated to the charge-only transfer;
    Q01.FR.06: when that is Rejected too, the transaction ends with triggerReason
    AbnormalCondition and stoppedReason ReqEnergyTransferRejected."""
    async with v2x_station(mock_clock, allowed=["AC_three_phase", "AC_BPT"]) as (csms, sim):
        csms.configure(needs_status="Rejected")
        state = sim.state
        await plug_in(sim)
        await state.wait_for(lambda: not state.model.charging() and not state.queue)
    requested = [
        n["chargingNeeds"]["requestedEnergyTransfer"]
        for n in csms.received("NotifyEVChargingNeeds")
    ]
    assert requested == ["AC_BPT", "AC_three_phase"]
    ended = csms.received("TransactionEvent")[-1]
    assert ended["eventType"] == "Ended"
    assert ended["triggerReason"] == "AbnormalCondition"
    assert ended["transactionInfo"]["stoppedReason"] == "ReqEnergyTransferRejected"
    assert state.errors == []


async def test_offline_past_max_offline_duration_the_discharge_profile_is_gone(mock_clock):
    """Q11/Q12: a discharge profile with maxOfflineDuration and invalidAfterOfflineDuration
    applies while the station has been offline for less than that, then stops applying for good:
    the EV charges again (the next profile; none here: full power), also once back online."""
    async with v2x_station(mock_clock, allowed=["AC_BPT"]) as (csms, sim):
        state = sim.state
        await plug_in(sim)
        tx_id = state.model.evse(1).tx_id
        assert tx_id is not None
        profile = discharge_profile(tx_id, -7000.0)  # maxOfflineDuration 300 s, then invalid
        await csms.command(call21.SetChargingProfile(evse_id=1, charging_profile=profile))
        await csms.drop()
        await state.wait_for(lambda: not state.online)
        offline_at = trio.current_time()
        # meter values keep coming (queued) while offline: wait until well past 300 s
        await state.wait_for(lambda: trio.current_time() - offline_at > 300 + 3 * INTERVAL)
        csms.refuse = False
        await state.wait_for(lambda: state.online and not state.queue)
        back_online = await next_samples(csms, sim, count=1)
    queued = [sampled(e) for e in csms.received("TransactionEvent") if e.get("offline")]
    assert queued[0]["Power.Active.Export"] == 7000
    last, before_last = queued[-1], queued[-2]
    assert (last["Power.Active.Import"], last["Power.Active.Export"]) == (22_000, 0)
    assert last["Energy.Active.Export.Register"] == before_last["Energy.Active.Export.Register"]
    assert back_online[0]["Power.Active.Import"] == 22_000
    assert PROFILE_ID not in state.model.evse(1).stack.profiles
    assert all(error.startswith("connection:") for error in state.errors)
