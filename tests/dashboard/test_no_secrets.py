"""Nothing secret is ever rendered: every page an admin can reach, found by following the
links from the overview, is searched for the secrets the node knows (API tokens and their
hashes, station passwords and their hashes, the wallet's and CCEE's credentials, credentials
and signed-URL tokens in firmware locations, the session id, private keys)."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import deque

import httpx
import pytest

from csms.api import create_token
from csms.api._auth import hash_token
from csms.storage import connect, firmware, firmware_campaigns

from ..simulator.conftest import PASSWORD as SIMULATOR_PASSWORD
from .conftest import ADMIN_TOKEN, page_csrf, sign_in, simulator

WALLET_PASSWORD = "wallet-pass-7Hq2"
CCEE_KEY = "ccee-key-9Zr4Lm"
STATION_PASSWORD = "station-pass-0123456789-Xy"
FIRMWARE_PASSWORD = "fw-pass-3Kd8"
FIRMWARE_URL_TOKEN = "fw-signed-token-5Pq1"
#: Links that are not pages (they act, switch, stream or serve files).
NOT_PAGES = re.compile(r"^/(logout|lang/|events|static/|api/|openapi)")


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # a closed port: the payout worker's attempts fail at once, nothing leaves the machine
    monkeypatch.setenv("WALLET_SERVICE_URL", f"http://payer:{WALLET_PASSWORD}@127.0.0.1:9/pay")
    monkeypatch.setenv("CCEE_API_KEY", CCEE_KEY)


def seed(database_url: str) -> list[str]:
    """Firmware jobs and a campaign whose locations carry credentials; the stored hashes."""
    location = f"https://ops:{FIRMWARE_PASSWORD}@fw.example/cp-2.1.bin?token={FIRMWARE_URL_TOKEN}"
    with connect(database_url) as conn:
        firmware.create_job(
            conn,
            station_id="SECRET1",
            request_id=1,
            location=location,
            retrieve_at=dt.datetime.now(dt.UTC),
            requested_by="ops",
        )
        firmware_campaigns.create_campaign(
            conn,
            ["SECRET1"],
            name="signed",
            location=location,
            max_concurrent=1,
            requested_by="ops",
        )
        conn.commit()
        hashes = conn.execute("SELECT password_hash FROM stations").fetchall()
        hashes += conn.execute("SELECT token_hash FROM api_tokens").fetchall()
    return [h for (h,) in hashes if h]


async def crawl(client: httpx.AsyncClient) -> dict[str, str]:
    """Every page reachable by links from the overview (each also as its htmx fragment)."""
    seen: dict[str, str] = {}
    queue = deque(["/"])
    while queue and len(seen) < 300:
        path = queue.popleft()
        if path in seen:
            continue
        page = await client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        fragment = await client.get(path, headers={"HX-Request": "true"})
        seen[path] = page.text + fragment.text
        for link in re.findall(r'href="(/[^"#]*)"', page.text):
            link = html.unescape(link)
            if not NOT_PAGES.match(link) and link not in seen:
                queue.append(link)
    return seen


async def test_no_page_an_admin_sees_renders_a_secret(
    secret_settings, url, node, database_url, operator_token, viewer_token
):
    revoked = create_token(database_url, "viewer", "dash-revoked")
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/admin")).text)
        made = await client.post(
            "/admin/stations",
            data={"csrf": csrf, "stationId": "SECRET1", "password": STATION_PASSWORD},
        )
        assert made.status_code == 303
        revoke = await client.post("/admin/tokens/dash-revoked/revoke", data={"csrf": csrf})
        assert revoke.status_code == 303
        hashes = seed(database_url)
        async with simulator(node, database_url, "SECRET2"):
            pages = await crawl(client)
        session_id = client.cookies["csms_session"]
    # the crawl reached every kind of page, or finding no secret would prove little
    for expected in ("/admin", "/stations/SECRET1", "/stations/SECRET2", "/firmware", "/v2g"):
        assert expected in pages, sorted(pages)
    assert any(p.startswith("/certificates") for p in pages), sorted(pages)
    assert any(p.startswith("/transactions") for p in pages), sorted(pages)
    tokens = [ADMIN_TOKEN, operator_token, viewer_token, revoked]
    secrets = [
        *tokens,
        *(hash_token(t) for t in tokens),
        *hashes,
        STATION_PASSWORD,
        SIMULATOR_PASSWORD,
        WALLET_PASSWORD,
        CCEE_KEY,
        FIRMWARE_PASSWORD,
        FIRMWARE_URL_TOKEN,
        session_id,
        "PRIVATE KEY",
    ]
    found = [(path, s) for path, text in pages.items() for s in secrets if s in text]
    assert found == []
    # what is shown instead of the secrets is there
    assert "https://fw.example/cp-2.1.bin" in pages["/firmware"]
    assert 'data-token="dash-operator"' in pages["/admin"]
