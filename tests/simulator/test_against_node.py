"""A simulated charge point against a whole node over real sockets and a real database."""

from __future__ import annotations

import trio

from csms.actors.station import SendCommand
from csms.protocol import Version
from csms.simulator import Ev, open_simulator
from csms.simulator import _commands as cmd
from csms.storage import connect as db_connect

from .conftest import fast_config, register, running_node


def event_rows(database_url: str, station_id: str) -> list[tuple[str, int, str, bool]]:
    with db_connect(database_url) as conn:
        rows = conn.execute(
            "SELECT transaction_id, seq_no, event_type, offline FROM transaction_events "
            "WHERE station_id = %s ORDER BY transaction_id, seq_no",
            (station_id,),
        ).fetchall()
    return [tuple(r) for r in rows]


async def test_local_transaction_is_stored_with_every_meter_update(database_url):
    async with running_node(database_url) as node:
        register(database_url, "SIM1")
        async with open_simulator(fast_config(node, "SIM1")) as sim:
            state = sim.state
            with trio.fail_after(20):
                await state.wait_for(lambda: state.online)
                assert state.sent["BootNotification"] == 1
                await state.wait_for(lambda: state.sent["StatusNotification"] >= 1)
                reply = await sim.ref.ask(cmd.StartCharging(1), timeout=5)
                assert "started" in reply
                await state.wait_for(lambda: state.sent["TransactionEvent"] >= 4)
                await sim.ref.ask(cmd.StopCharging(), timeout=5)
                await state.wait_for(lambda: not state.queue)
    rows = event_rows(database_url, "SIM1")
    assert rows[0][2] == "Started"
    assert rows[-1][2] == "Ended"
    assert [r[1] for r in rows] == list(range(len(rows)))
    assert state.errors == []


async def command(node, station_id: str, action: str, payload: dict) -> dict:
    ref = node.stations.registry.lookup(station_id)
    assert ref is not None
    result = await ref.ask(SendCommand(action, payload), timeout=15)
    return dict(result.response)


async def test_remote_start_and_stop_run_a_transaction(database_url):
    """F01/F03: RequestStartTransaction starts a transaction carrying the remoteStartId."""
    async with running_node(database_url) as node:
        register(database_url, "SIM2")
        async with open_simulator(fast_config(node, "SIM2")) as sim:
            state = sim.state
            with trio.fail_after(20):
                await state.wait_for(lambda: state.online)
                started = await command(
                    node,
                    "SIM2",
                    "RequestStartTransaction",
                    {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 7},
                )
                assert started["status"] == "Accepted"
                tx_id = started["transactionId"]
                await state.wait_for(lambda: state.sent["TransactionEvent"] >= 3)
                stopped = await command(
                    node, "SIM2", "RequestStopTransaction", {"transactionId": tx_id}
                )
                assert stopped["status"] == "Accepted"
                await state.wait_for(lambda: not state.queue and not state.model.charging())
                again = await command(
                    node, "SIM2", "RequestStopTransaction", {"transactionId": tx_id}
                )
                assert again["status"] == "Rejected"
    rows = event_rows(database_url, "SIM2")
    assert {r[0] for r in rows} == {tx_id}
    assert (rows[0][2], rows[-1][2]) == ("Started", "Ended")
    assert state.received["RequestStartTransaction"] == 1


async def test_reset_ends_the_transaction_and_boots_again(database_url):
    """B11: an immediate Reset is accepted, the transaction ends and the station boots again;
    an OnIdle Reset during a transaction is Scheduled and happens when it ends."""
    async with running_node(database_url) as node:
        register(database_url, "SIM3")
        async with open_simulator(fast_config(node, "SIM3")) as sim:
            state = sim.state
            with trio.fail_after(20):
                await state.wait_for(lambda: state.online)
                await sim.ref.ask(cmd.StartCharging(1), timeout=5)
                await state.wait_for(lambda: state.sent["TransactionEvent"] >= 2)
                reply = await command(node, "SIM3", "Reset", {"type": "Immediate"})
                assert reply["status"] == "Accepted"
                await state.wait_for(lambda: state.boots == 2 and state.online)
                await sim.ref.ask(cmd.StartCharging(1), timeout=5)
                reply = await command(node, "SIM3", "Reset", {"type": "OnIdle"})
                assert reply["status"] == "Scheduled"  # B11.FR.01: after the transaction
                assert state.boots == 2
                await sim.ref.ask(cmd.StopCharging(), timeout=5)
                await state.wait_for(lambda: state.boots == 3 and state.online)
                await state.wait_for(lambda: not state.queue)
    rows = event_rows(database_url, "SIM3")
    assert rows[-1][2] == "Ended"
    with db_connect(database_url) as conn:
        reason = conn.execute("SELECT last_boot_reason FROM stations WHERE id = 'SIM3'").fetchone()
    assert reason == ("RemoteReset",)


async def test_v21_discharge_setpoint_exports_energy_and_lowers_soc(database_url):
    """A 2.1 CentralSetpoint with a negative setpoint makes the V2G EV export energy."""
    ev = Ev(soc=80.0, battery_kwh=75.0, v2g=True, discharge_kw=50.0)
    async with running_node(database_url) as node:
        register(database_url, "SIM5")
        config = fast_config(node, "SIM5", version=Version.V21, ev=ev)
        async with open_simulator(config) as sim:
            state = sim.state
            with trio.fail_after(20):
                await state.wait_for(lambda: state.online)
                await sim.ref.ask(cmd.StartCharging(1), timeout=5)
                evse = state.model.evse(1)
                profile = {
                    "evseId": 1,
                    "chargingProfile": {
                        "id": 1,
                        # above the charging profile the node sends for the EV's needs (K15)
                        "stackLevel": 2,
                        "chargingProfilePurpose": "TxProfile",
                        "chargingProfileKind": "Relative",
                        "transactionId": evse.tx_id,
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "chargingRateUnit": "W",
                                "chargingSchedulePeriod": [
                                    {
                                        "startPeriod": 0,
                                        "operationMode": "CentralSetpoint",
                                        "setpoint": -20000.0,
                                    }
                                ],
                            }
                        ],
                    },
                }
                reply = await command(node, "SIM5", "SetChargingProfile", profile)
                assert reply["status"] == "Accepted"
                assert evse.power_w == -20000.0
                soc_before = state.model.ev.soc
                # the meter loop has run with the setpoint (it tells the state after each step)
                await state.wait_for(lambda: state.model.ev.soc < soc_before)
                # ... and events emitted from then on, exported energy in them, reach the CSMS
                sent = state.sent["TransactionEvent"] + len(state.queue)
                await state.wait_for(lambda: state.sent["TransactionEvent"] >= sent + 2)
                await sim.ref.ask(cmd.StopCharging(), timeout=5)
                await state.wait_for(lambda: not state.queue)
    assert state.model.ev.soc < soc_before
    assert evse.energy_export_wh > 0
    with db_connect(database_url) as conn:
        exported = conn.execute(
            "SELECT max(value) FROM meter_values WHERE station_id = 'SIM5' "
            "AND measurand = 'Energy.Active.Export.Register'"
        ).fetchone()[0]
        power = conn.execute(
            "SELECT max(value) FROM meter_values WHERE station_id = 'SIM5' "
            "AND measurand = 'Power.Active.Export'"
        ).fetchone()[0]
    assert exported > 0
    assert power == 20000
