"""The dashboard's routes over plain HTTP against a whole node: sign-in and its cookie, CSRF,
roles, every page, the static files, the live stream."""

from __future__ import annotations

import re

import httpx
import orjson
import trio

from csms.api import create_token, revoke_token
from csms.api.dashboard import _sessions
from csms.storage import connect

from .conftest import ADMIN_TOKEN, page_csrf, sign_in, simulator

PAGES = ["/", "/stations", "/transactions", "/v2g", "/firmware", "/certificates"]


def browser_client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30)


async def test_a_page_without_a_session_sends_to_the_sign_in_form(url):
    async with browser_client(url) as client:
        for path in PAGES:
            answer = await client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/login?next=")
        assert (await client.get("/events")).status_code == 401
        assert (await client.get("/", headers={"HX-Request": "true"})).headers["HX-Redirect"]


async def test_sign_in_sets_an_httponly_strict_session_cookie_and_never_shows_the_token(url):
    async with browser_client(url) as client:
        form = await client.get("/login")
        assert form.status_code == 200
        assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
        csrf = page_csrf(form.text)
        answer = await client.post(
            "/login", data={"csrf": csrf, "token": ADMIN_TOKEN, "next": "/stations"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/stations"
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and "csms_session" in v
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert ADMIN_TOKEN not in cookie
        for path in PAGES:
            page = await client.get(path)
            assert page.status_code == 200, path
            assert ADMIN_TOKEN not in page.text
            assert "bootstrap-admin" in page.text


async def test_sign_in_refuses_an_unknown_token_a_missing_csrf_and_a_foreign_next(url):
    async with browser_client(url) as client:
        csrf = page_csrf((await client.get("/login")).text)
        wrong = await client.post("/login", data={"csrf": csrf, "token": "csms_nope"})
        assert wrong.status_code == 401
        assert "csms_session" not in wrong.headers.get("set-cookie", "")
        # the double-submit cookie of the form must match the field
        forged = await client.post("/login", data={"csrf": "forged", "token": ADMIN_TOKEN})
        assert forged.status_code == 403
    async with browser_client(url) as client:
        csrf = page_csrf((await client.get("/login")).text)
        answer = await client.post(
            "/login", data={"csrf": csrf, "token": ADMIN_TOKEN, "next": "//evil.example/x"}
        )
        assert answer.headers["location"] == "/"


async def test_a_form_post_without_the_session_csrf_token_is_refused(url, node, database_url):
    async with simulator(node, database_url, "DASH-CSRF") as sim, browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        page = await client.get("/stations/DASH-CSRF")
        csrf = page_csrf(page.text)
        for forged in ({"type": "OnIdle"}, {"type": "OnIdle", "csrf": csrf[:-1] + "x"}):
            answer = await client.post("/stations/DASH-CSRF/commands/reset", data=forged)
            assert answer.status_code == 403
            assert "CSRF" in answer.text
        sent = await client.post(
            "/stations/DASH-CSRF/commands/reset", data={"type": "OnIdle", "csrf": csrf}
        )
        assert sent.status_code == 200
        assert "Accepted" in sent.text
    assert sim.state.received["Reset"] == 1


async def test_a_viewer_sees_no_command_forms_and_its_forged_post_is_403(
    url, node, database_url, viewer_token
):
    async with simulator(node, database_url, "DASH-VIEW") as sim, browser_client(url) as client:
        await sign_in(client, viewer_token)
        page = await client.get("/stations/DASH-VIEW")
        assert page.status_code == 200
        assert "/commands/" not in page.text
        csrf = page_csrf(page.text)  # the sign-out form's
        answer = await client.post(
            "/stations/DASH-VIEW/commands/reset", data={"type": "Immediate", "csrf": csrf}
        )
        assert answer.status_code == 403
        v2g = await client.get("/v2g")
        assert 'action="/v2g/start"' not in v2g.text
        start = await client.post(
            "/v2g/start", data={"stationId": "DASH-VIEW", "powerKw": "7", "csrf": csrf}
        )
        assert start.status_code == 403
    assert sim.state.received["Reset"] == 0


async def test_a_command_form_names_the_bad_field_and_an_offline_station(url, node, database_url):
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/stations")).text)
        async with simulator(node, database_url, "DASH-BAD"):
            bad = await client.post(
                "/stations/DASH-BAD/commands/unlock",
                data={"evseId": "one", "connectorId": "1", "csrf": csrf},
            )
            assert bad.status_code == 422
            assert "evseId" in bad.text
        offline = await client.post(
            "/stations/DASH-BAD/commands/reset", data={"type": "Immediate", "csrf": csrf}
        )
        assert offline.status_code == 409
        assert "station_disconnected" in offline.text
        unknown = await client.post(
            "/stations/NOPE/commands/reset", data={"type": "Immediate", "csrf": csrf}
        )
        assert unknown.status_code == 404


async def test_sign_out_and_a_revoked_token_end_the_session(url, database_url, monkeypatch):
    monkeypatch.setattr(_sessions, "RECHECK_SECONDS", 0.0)  # looked up again at every request

    token = create_token(database_url, "operator", "dash-revoked")
    async with browser_client(url) as client:
        await sign_in(client, token)
        assert (await client.get("/")).status_code == 200
        revoke_token(database_url, "dash-revoked")
        assert (await client.get("/")).status_code == 303
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/")).text)
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
        assert (await client.get("/")).status_code == 303


async def test_the_vendored_libraries_are_served_from_the_node(url):
    async with browser_client(url) as client:
        htmx = await client.get("/static/vendor/htmx.min.js")
        assert htmx.status_code == 200
        assert '"2.0.11"' in htmx.text or "2.0.11" in htmx.text
        uplot = await client.get("/static/vendor/uPlot.iife.min.js")
        assert uplot.status_code == 200
        assert (await client.get("/static/app.js")).status_code == 200
        assert (await client.get("/static/vendor/VENDORED.md")).status_code == 200


async def test_the_station_list_filters_and_pages_on_the_server(url, database_url):
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO stations (id, registration_status, model, firmware_version)"
            " SELECT 'LIST' || lpad(i::text, 4, '0'), 'Accepted',"
            " CASE WHEN i % 2 = 0 THEN 'M-even' ELSE 'M-odd' END, 'fw-' || (i % 3)"
            " FROM generate_series(1, 120) i"
        )
        conn.execute(
            "INSERT INTO evses (station_id, evse_id, connector_id, status, status_at)"
            " VALUES ('LIST0007', 1, 1, 'Faulted', now())"
        )
        conn.commit()
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        first = await client.get("/stations")
        assert 'data-figure="total">120<' in first.text
        assert "LIST0050" in first.text
        assert "LIST0051" not in first.text
        second = await client.get("/stations", params={"offset": "50"})
        assert "LIST0051" in second.text
        assert "LIST0050" not in second.text
        even = await client.get("/stations", params={"model": "M-even", "firmware": "fw-0"})
        assert 'data-figure="total">20<' in even.text  # i even and divisible by 3, to 120
        faulted = await client.get("/stations", params={"status": "faulted"})
        assert re.findall(r'data-station="([^"]+)"', faulted.text) == ["LIST0007"]
        prefix = await client.get("/stations", params={"q": "LIST011"})
        assert 'data-figure="total">10<' in prefix.text
        offline = await client.get("/stations", params={"status": "offline", "offset": "100"})
        assert "LIST0101" in offline.text


async def test_the_event_stream_names_the_station_that_connected(url, node, database_url):
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        async with client.stream("GET", "/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            async with simulator(node, database_url, "DASH-SSE"):
                with trio.fail_after(30):
                    async for line in lines:
                        if not line.startswith("data: "):
                            continue
                        batch = orjson.loads(line[6:])
                        if "DASH-SSE" in (batch["stations"] or []) and "station" in batch["topics"]:
                            break


async def test_the_language_switch_shows_the_pages_in_brazilian_portuguese(url):
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        switched = await client.get("/lang/pt-BR", params={"next": "/stations"})
        assert switched.status_code == 303
        assert switched.headers["location"] == "/stations"
        page = await client.get("/stations")
        assert '<html lang="pt-BR">' in page.text
        assert "Estações" in page.text
        assert (await client.get("/lang/xx", params={"next": "https://evil.example"})).headers[
            "location"
        ] == "/"
        await client.get("/lang/en")
        assert "Estações" not in (await client.get("/stations")).text


async def test_the_firmware_page_shows_campaign_progress_and_hides_location_secrets(
    url, database_url
):
    from csms.storage import firmware_campaigns

    with connect(database_url) as conn:
        for i in range(4):
            conn.execute("INSERT INTO stations (id) VALUES (%s)", (f"FW{i}",))
        campaign = firmware_campaigns.create_campaign(
            conn,
            ["FW0", "FW1", "FW2", "FW3"],
            name="spring-rollout",
            location="https://user:pw@fw.example/cp-2.0.bin?token=s3cr3t",
            max_concurrent=2,
            requested_by="ops",
        )
        conn.execute(
            "UPDATE firmware_campaign_stations SET state = 'installed'"
            " WHERE campaign_id = %s AND station_id IN ('FW0', 'FW1')",
            (campaign.id,),
        )
        conn.execute(
            "UPDATE firmware_campaign_stations SET state = 'failed'"
            " WHERE campaign_id = %s AND station_id = 'FW2'",
            (campaign.id,),
        )
        conn.commit()
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        page = await client.get("/firmware")
    assert "spring-rollout" in page.text
    assert 'data-figure="progress">3/4<' in page.text
    assert "https://fw.example/cp-2.0.bin" in page.text
    assert "s3cr3t" not in page.text
    assert "user:pw" not in page.text


async def test_the_transaction_list_filters_by_station_and_state(url, database_url):
    with connect(database_url) as conn:
        conn.execute("INSERT INTO stations (id) VALUES ('TXA'), ('TXB')")
        conn.execute(
            "INSERT INTO transactions (station_id, transaction_id, state, evse_id, started_at,"
            " ended_at, last_seq_no) VALUES"
            " ('TXA', 'a-live', 'Active', 1, now(), NULL, 0),"
            " ('TXA', 'a-done', 'Ended', 1, now() - interval '1 day', now(), 3),"
            " ('TXB', 'b-live', 'Active', 1, now(), NULL, 0)"
        )
        conn.commit()
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)

        async def listed(**params: str) -> set[str]:
            page = await client.get("/transactions", params=params)
            return set(re.findall(r'href="/transactions/[^/]+/([^"]+)"', page.text))

        assert await listed() == {"a-live", "a-done", "b-live"}
        assert await listed(station="TXA") == {"a-live", "a-done"}
        assert await listed(state="active") == {"a-live", "b-live"}
        assert await listed(station="TXA", state="ended") == {"a-done"}
        detail = await client.get("/transactions/TXA/a-done")
        assert detail.status_code == 200
        assert (await client.get("/transactions/TXA/nope")).status_code == 404


async def test_a_refused_discharge_start_is_shown_with_its_code_and_field(url, database_url):
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/v2g")).text)
        bad = await client.post(
            "/v2g/start", data={"csrf": csrf, "stationId": "CP1", "powerKw": "x"}
        )
        assert bad.status_code == 422
        assert "(powerKw)" in bad.text
        assert 'value="CP1"' in bad.text  # the form keeps what was typed
        with connect(database_url) as conn:
            conn.execute("INSERT INTO stations (id) VALUES ('V2G-OFF')")
            conn.commit()
        refused = await client.post(
            "/v2g/start", data={"csrf": csrf, "stationId": "V2G-OFF", "powerKw": "7"}
        )
        assert refused.status_code == 409, refused.text
        assert 'class="answer error"' in refused.text
        stop = await client.post(
            f"/v2g/{'0' * 8}-0000-0000-0000-{'0' * 12}/stop", data={"csrf": csrf}
        )
        assert stop.status_code == 404


async def test_an_open_event_stream_ends_once_its_session_is_signed_out(url, monkeypatch):
    from csms.api.dashboard import _hub

    monkeypatch.setattr(_hub, "KEEPALIVE", 0.05)  # the session is checked at each keep-alive
    async with browser_client(url) as client:
        await sign_in(client, ADMIN_TOKEN)
        csrf = page_csrf((await client.get("/")).text)
        with trio.fail_after(30):
            async with client.stream("GET", "/events") as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("retry:")
                assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
                rest = [line async for line in lines]  # ends: the server closed the stream
        assert not any(line.startswith("data:") for line in rest)
