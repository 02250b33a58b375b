"""Two nodes as separate processes on one PostgreSQL and one nats-server (SPEC section 9): a station
on node B (a `csms serve` process) commanded through node A's REST API; B killed with SIGKILL
while a command to the station is in flight: A answers 504 for it, reaps B (the station's
presence cleared, the command closed node_lost); the station reconnects to A and is commanded
again. No command reaches a station twice."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import trio

from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.storage import connect, stations
from csms.transport.nats_server import EmbeddedNats
from tests.api.chargepoint import connect_charge_point
from tests.api.conftest import ADMIN_TOKEN, PASSWORD, client, node_settings
from tests.api.test_errors import error_of
from tests.interop.test_durability import free_port

from .test_cluster import STATION, until


def start_node_b(
    database_url: str, nats_url: str, port: int, config: pathlib.Path
) -> subprocess.Popen[str]:
    config.write_text("[v2g.ccee]\nfetch = false\n")  # offline
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "CSMS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CSMS_NODE__ID": "node-b",
        "CSMS_OCPP__HOST": "127.0.0.1",
        "CSMS_OCPP__PORT": str(port),
        "CSMS_HTTP__PORT": "0",
        "CSMS_LOG__LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "csms.cli", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


async def running(node: subprocess.Popen[str]) -> list[str]:
    """Until the node's own word that it runs (`csms serve` prints it once listening); what it
    printed until then."""
    assert node.stdout is not None
    printed = []
    with trio.fail_after(60):
        while "running" not in (line := await trio.to_thread.run_sync(node.stdout.readline)):
            assert line, "node B exited before it was running"
            printed.append(line)
    return printed


def reset_audit(database_url: str) -> list[tuple[str, str | None, str]]:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT status, error_code, node_id FROM commands ORDER BY requested_at"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


async def test_node_b_killed_mid_command_is_reaped_and_its_station_moves_to_node_a(
    database_url: str,
    nats: EmbeddedNats,
    admin_env: str,
    bridge: AsyncioThread,
    tmp_path: pathlib.Path,
) -> None:
    settings = node_settings(
        database_url,
        **{
            "node.id": "node-a",
            "nats.url": nats.url,
            "nats.reap_interval_s": 0.1,
            "ocpp.response_timeout": 1.0,
        },
    )
    port_b = free_port()
    b = start_node_b(database_url, nats.url, port_b, tmp_path / "node-b.toml")
    try:
        async with open_node(settings, http=True) as a, client(a) as api:
            printed = await running(b)
            assert f"NATS:     {nats.url} (events on csms.events.> in CSMS_EVENTS)\n" in printed
            r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
            assert r.status_code == 201, r.text
            old = await connect_charge_point(bridge, port_b, STATION, PASSWORD)
            assert (await old.boot()).status == "Accepted"
            await until(lambda: a.gateway.is_connected(STATION))

            r = await api.post(f"/api/v1/devices/{STATION}/reset", json={"type": "OnIdle"})
            assert r.status_code == 200, r.text  # answered by the station on node B
            await old.hold_resets()

            async def killed_mid_command() -> None:
                await old.wait_for_reset()  # B sent it, the station holds its answer
                # and B's writer committed it as sent (what a dead node leaves to clean up)
                await until(lambda: [s for s, _, _ in reset_audit(database_url)][1:] == ["sent"])
                b.send_signal(signal.SIGKILL)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(killed_mid_command)
                r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
            assert error_of(r, 504)["code"] == "station_timeout"  # no reply from B

            await until(lambda: reset_audit(database_url)[1][0] != "sent")
            assert reset_audit(database_url) == [
                ("responded", None, "node-b"),
                ("failed", "node_lost", "node-b"),
            ]
            with connect(database_url) as conn:
                assert stations.get(conn, STATION).node_id is None
            await until(lambda: not a.gateway.is_connected(STATION))
            r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
            assert error_of(r, 409)["code"] == "station_disconnected"

            new = await connect_charge_point(bridge, a.ocpp_port, STATION, PASSWORD)
            assert (await new.boot()).status == "Accepted"
            r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
            assert r.status_code == 200, r.text
            assert [action for action, _ in old.received] == ["Reset", "Reset"]
            assert [action for action, _ in new.received] == ["Reset"]
            await old.release_resets()
            await new.close()
    finally:
        if b.poll() is None:
            b.kill()
        b.wait()
        if b.stdout is not None:
            b.stdout.close()
