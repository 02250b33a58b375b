"""Administration pages (admin role): tokens and their revocation, registering a station, a
station's registration status."""

from __future__ import annotations

import httpx

from csms.api import create_token
from csms.storage import connect, stations

from .conftest import ADMIN_TOKEN, page_csrf, sign_in


async def test_only_an_admin_reaches_the_administration(url, operator_token):
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await sign_in(client, operator_token)
        assert (await client.get("/admin")).status_code == 403
        assert 'href="/admin"' not in (await client.get("/")).text
        csrf = page_csrf((await client.get("/")).text)
        forged = await client.post("/admin/tokens/dash-operator/revoke", data={"csrf": csrf})
        assert forged.status_code == 403


async def test_an_admin_revokes_a_token_and_its_session_ends_at_once(url, database_url):
    token = create_token(database_url, "viewer", "to-revoke")
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as admin,
        httpx.AsyncClient(base_url=url, timeout=30) as viewer,
        httpx.AsyncClient(base_url=url, timeout=30) as api,
    ):
        await sign_in(viewer, token)
        assert (await viewer.get("/")).status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await api.get("/api/v1/stations", headers=bearer)).status_code == 200
        await sign_in(admin, ADMIN_TOKEN)
        page = await admin.get("/admin")
        assert 'data-token="to-revoke"' in page.text
        assert token not in page.text
        answer = await admin.post(
            "/admin/tokens/to-revoke/revoke", data={"csrf": page_csrf(page.text)}
        )
        assert answer.status_code == 303
        assert (await viewer.get("/")).status_code == 303
        assert (await api.get("/api/v1/stations", headers=bearer)).status_code == 401


async def test_an_admin_registers_a_station_and_sets_its_registration_status(url, database_url):
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/admin")).text)
        weak = await client.post(
            "/admin/stations", data={"csrf": csrf, "stationId": "NEW1", "password": "short-one"}
        )
        assert weak.status_code == 422
        assert "(password)" in weak.text
        assert "short-one" not in weak.text
        made = await client.post(
            "/admin/stations",
            data={
                "csrf": csrf,
                "stationId": "NEW1",
                "password": "a-strong-password-0123",
                "registrationStatus": "Pending",
            },
        )
        assert made.status_code == 303
        assert made.headers["location"] == "/stations/NEW1"
        again = await client.post(
            "/admin/stations",
            data={"csrf": csrf, "stationId": "NEW1", "password": "a-strong-password-0123"},
        )
        assert again.status_code == 409
        changed = await client.post(
            "/stations/NEW1/registration", data={"csrf": csrf, "registrationStatus": "Accepted"}
        )
        assert changed.status_code == 303
    with connect(database_url) as conn:
        row = stations.get(conn, "NEW1")
    assert row is not None
    assert row.registration_status == "Accepted"
