"""The firmware REST routes' validation and roles, against a real node."""

from __future__ import annotations

import trio

from csms.api import create_token

from ..api.conftest import client
from .firmware_peer import STATION, now_text, rig, setup_database

PATH = f"/api/v1/devices/{STATION}/firmware/update"


async def test_bad_bodies_are_422_naming_the_field(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        cases = [
            ({"retrieveDateTime": now_text()}, "location"),
            ({"location": "https://x/fw.bin"}, "retrieveDateTime"),
            ({"location": "https://x/fw.bin", "retrieveDateTime": "soon"}, "retrieveDateTime"),
            (
                {"location": "https://x/fw.bin", "retrieveDateTime": now_text(), "retries": -1},
                "retries",
            ),
            (
                {
                    "location": "https://x/fw.bin",
                    "retrieveDateTime": now_text(),
                    "secure": {"signature": "c2ln"},
                },
                "secure.signingCertificate",
            ),
        ]
        for body, field in cases:
            answer = await r.api.post(PATH, json=body)
            assert answer.status_code == 422, body
            assert field in answer.text, (body, answer.text)
        bad_state = await r.api.get("/api/v1/firmware/jobs", params={"state": "running"})
        assert bad_state.status_code == 422


async def test_operator_writes_viewer_reads(database_url, admin_env, bridge):
    setup_database(database_url)
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    async with rig(database_url, bridge) as r:
        await r.connect()
        assert (await r.update()).status_code == 201
        async with client(r.node, viewer) as ro:
            refused = await ro.post(
                PATH, json={"location": "https://x", "retrieveDateTime": now_text()}
            )
            assert refused.status_code == 403
            assert (await ro.get(f"/api/v1/devices/{STATION}/firmware/status")).status_code == 200
            assert (await ro.get("/api/v1/firmware/jobs")).status_code == 200
        missing = await r.api.get("/api/v1/devices/NOPE/firmware/status")
        assert missing.status_code == 404


async def test_a_station_not_connected_is_409(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        answer = await r.api.post(
            PATH, json={"location": "https://x", "retrieveDateTime": now_text()}
        )
        assert answer.status_code == 409
        assert "station_not_connected" in answer.text
