"""The offline queue: transaction messages made while the CSMS is down are sent after it is
back, in order, until acknowledged; nothing is lost or stored twice."""

from __future__ import annotations

import socket

import trio

from csms.simulator import ReconnectBackoff, StationConfig, open_simulator
from csms.simulator import _commands as cmd

from .conftest import PASSWORD, register, running_node
from .test_against_node import event_rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_queue_survives_a_node_restart_without_loss_or_duplicates(database_url):
    """E04 (offline transactions): offline events carry offline=true and every seqNo is stored
    exactly once after the node comes back on the same port and database."""
    port = free_port()
    register(database_url, "SIMQ")
    config = StationConfig(
        station_id="SIMQ",
        server=f"ws://127.0.0.1:{port}/ocpp",
        password=PASSWORD,
        meter_interval=0.02,
        backoff=ReconnectBackoff(wait_minimum=0.05, random_range=0.05, repeat_times=2),
        retry_interval=0.05,
        response_timeout=10.0,
    )
    async with open_simulator(config) as sim:
        state = sim.state
        with trio.fail_after(40):
            async with running_node(database_url, port=port):
                await state.wait_for(lambda: state.online)
                await sim.ref.ask(cmd.StartCharging(1), timeout=5)
                await state.wait_for(lambda: state.sent["TransactionEvent"] >= 3)
            await state.wait_for(lambda: not state.connected)
            await state.wait_for(lambda: len(state.queue) >= 5)
            await sim.ref.ask(cmd.StopCharging(), timeout=5)
            evse = state.model.evse(1)
            generated = evse.seq_no
            offline = [m.payload["seqNo"] for m in state.queue if m.payload.get("offline")]
            assert offline
            assert offline[-1] == generated - 1  # the Ended event was made offline
            async with running_node(database_url, port=port):
                await state.wait_for(lambda: state.online and not state.queue)
    rows = event_rows(database_url, "SIMQ")
    assert [r[1] for r in rows] == list(range(generated))
    assert len({r[0] for r in rows}) == 1
    assert rows[-1][2] == "Ended"
    stored_offline = [r[1] for r in rows if r[3]]
    assert set(offline) <= set(stored_offline)
    assert state.boots == 1  # reconnecting is not rebooting: no second BootNotification
