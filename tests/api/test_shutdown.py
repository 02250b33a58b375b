"""Stopping with commands in flight: every request gets an answer or a clear error, and
nothing hangs (each test is bounded)."""

from __future__ import annotations

import httpx
import trio

from csms.api import DRAIN_GRACE
from csms.node import http_control_child
from csms.runtime import AsyncioThread, Strategy, Supervisor

from .chargepoint import connect_charge_point
from .conftest import ADMIN_TOKEN, PASSWORD, api_node, base_url, client
from .test_device_commands import STATION, connected_station

IN_FLIGHT = 4


async def test_node_stop_answers_every_command_in_flight(
    database_url: str, admin_env: str, bridge: AsyncioThread
) -> None:
    """The whole node stops (listener first, then the API, then the stations) while commands
    wait for a station that does not answer: each ends with a clear status."""
    statuses: list[tuple[int, str]] = []
    api = httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    with trio.fail_after(60):
        async with api, trio.open_nursery() as requests, api_node(database_url) as node:
            api.base_url = base_url(node)
            cp = await connected_station(node, api, bridge)
            await cp.hold_resets()

            async def reset() -> None:
                r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
                statuses.append((r.status_code, r.json()["error"]["code"]))

            for _ in range(IN_FLIGHT):
                requests.start_soon(reset)
            await cp.wait_for_reset()
            # leaving the block stops the node with the requests still waiting
    assert len(statuses) == IN_FLIGHT
    assert set(statuses) <= {(409, "station_disconnected"), (503, "shutting_down")}


async def test_api_stop_drains_commands_in_flight_with_503(
    database_url: str, admin_env: str, bridge: AsyncioThread
) -> None:
    """The API actor alone stops while its station stays connected: new commands are refused,
    those in flight get DRAIN_GRACE seconds and then 503; the audit keeps the outcome."""
    statuses: list[tuple[int, str]] = []
    with trio.fail_after(60):
        async with api_node(database_url) as node, client(node) as api:
            await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
            cp = await connect_charge_point(bridge, node.ocpp_port, STATION, PASSWORD)
            await cp.boot()
            await cp.hold_resets()
            second = Supervisor(Strategy.ONE_FOR_ONE, [http_control_child(node)], name="api-2")
            async with trio.open_nursery() as nursery:
                await nursery.start(second.run)
                host, port = node.http_addresses[0]
                async with httpx.AsyncClient(
                    base_url=f"http://{host}:{port}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    timeout=30,
                ) as draining:

                    async def reset() -> None:
                        r = await draining.post(f"/api/v1/devices/{STATION}/reset", json={})
                        statuses.append((r.status_code, r.json()["error"]["code"]))

                    async with trio.open_nursery() as requests:
                        for _ in range(IN_FLIGHT):
                            requests.start_soon(reset)
                        await cp.wait_for_reset()
                        started = trio.current_time()
                        await second.stop()
                    stopped_in = trio.current_time() - started
                    assert node.http_addresses == []
            assert statuses == [(503, "shutting_down")] * IN_FLIGHT
            assert stopped_in < DRAIN_GRACE + 3  # bounded, not waiting for the station
            await cp.release_resets()
            await cp.close()
