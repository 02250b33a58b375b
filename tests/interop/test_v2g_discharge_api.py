"""The discharge endpoints against an in-memory ControlPlane (tests/api/fake_control_plane.py):
roles, 422 naming the field, the 409 codes passed through, 202 while negotiating, and the
session JSON with every key present."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from csms.api import hash_token
from csms.storage import tokens

from ..api.fake_control_plane import FakeControlPlane, fake_app
from .v2g_discharge_peer import SESSION_KEYS

ADMIN = "in-memory-admin-token-0123456789"
VIEWER = "in-memory-viewer-token-0123456789"
OPERATOR = "in-memory-operator-token-01234567"
START = "/api/v1/v2g/discharge/start"
STOP = "/api/v1/v2g/discharge/stop"


@pytest.fixture
def control() -> FakeControlPlane:
    control = FakeControlPlane()
    roles = {
        hash_token(VIEWER): ("viewer", "viewer"),
        hash_token(OPERATOR): ("operator", "operator"),
    }

    def lookup(digest: str) -> tokens.ApiTokenRow | None:
        if digest not in roles:
            return None
        name, role = roles[digest]
        at = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
        return tokens.ApiTokenRow(uuid.uuid4(), name, role, at, None, None, None)

    control.database.answers[tokens.api_token_by_hash] = lookup
    control.database.answers[tokens.touch_api_token] = lambda token_id: None
    return control


@pytest.fixture
async def api(control: FakeControlPlane) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_app(control, ADMIN))
    async with httpx.AsyncClient(transport=transport, base_url="http://csms") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_operator_starts_with_the_power_in_watts(control, api):
    answer = await api.post(
        START,
        json={"stationId": "CP1", "evseId": 2, "powerKw": 7.4, "durationMinutes": 30},
        headers=auth(OPERATOR),
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == SESSION_KEYS
    assert (body["state"], body["requestedPowerKw"], body["endedAt"]) == ("starting", 7.4, None)
    [start] = control.v2g.starts
    assert (start.station_id, start.evse_id, start.power_w, start.duration_s) == (
        "CP1",
        2,
        Decimal("7400.0"),
        1800,
    )
    assert start.requested_by == "operator"


async def test_a_viewer_may_read_but_not_start_or_stop(control, api):
    assert (
        await api.post(START, json={"stationId": "CP1", "powerKw": 3}, headers=auth(VIEWER))
    ).status_code == 403
    stop = await api.post(STOP, json={"sessionId": str(uuid.uuid4())}, headers=auth(VIEWER))
    assert stop.status_code == 403
    listed = await api.get("/api/v1/v2g/sessions", headers=auth(VIEWER))
    assert listed.status_code == 200
    assert listed.json() == {"items": []}
    assert control.v2g.starts == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stationId": "CP1", "powerKw": 0}, "powerKw"),
        ({"stationId": "CP1", "powerKw": -3}, "powerKw"),
        ({"stationId": "CP1", "powerKw": 7, "minSocPercent": 5}, "minSocPercent"),
        ({"stationId": "CP1", "powerKw": 7, "evseId": 0}, "evseId"),
        ({"stationId": "CP1", "powerKw": 7, "durationMinutes": 0}, "durationMinutes"),
        ({"stationId": "CP1"}, "powerKw"),
        ({"powerKw": 7}, "stationId"),
        ({"stationId": "CP1", "powerKw": 7, "power": 1}, "power"),
        ({"stationId": "CP1", "powerKw": "7"}, "powerKw"),
    ],
)
async def test_a_bad_start_is_422_naming_the_field(control, api, body, field):
    answer = await api.post(START, json=body, headers=auth(ADMIN))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert control.v2g.starts == []


async def test_a_refused_start_is_409_with_the_stable_code(control, api):
    control.v2g.refusal = "user_not_opted_in"
    answer = await api.post(START, json={"stationId": "CP1", "powerKw": 7}, headers=auth(ADMIN))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "user_not_opted_in"


async def test_a_negotiating_start_is_202(control, api):
    control.v2g.negotiate = True
    answer = await api.post(START, json={"stationId": "CP1", "powerKw": 7}, headers=auth(ADMIN))
    assert answer.status_code == 202
    assert answer.json()["state"] == "negotiating"


async def test_stop_and_reads_of_a_session(control, api):
    started = (
        await api.post(START, json={"stationId": "CP1", "powerKw": 7}, headers=auth(ADMIN))
    ).json()
    got = await api.get(f"/api/v1/v2g/session/{started['id']}", headers=auth(VIEWER))
    assert got.json() == started
    active = await api.get(
        "/api/v1/v2g/sessions", params={"active": "true", "stationId": "CP1"}, headers=auth(VIEWER)
    )
    assert [s["id"] for s in active.json()["items"]] == [started["id"]]
    stopped = await api.post(STOP, json={"sessionId": started["id"]}, headers=auth(OPERATOR))
    assert stopped.status_code == 200
    assert (stopped.json()["state"], stopped.json()["endReason"]) == ("completed", "operator_stop")
    ended = await api.get("/api/v1/v2g/sessions", params={"active": "false"}, headers=auth(VIEWER))
    assert [s["id"] for s in ended.json()["items"]] == [started["id"]]


async def test_unknown_sessions_are_404_and_a_bad_id_422(control, api):
    assert (await api.get("/api/v1/v2g/session/nope", headers=auth(ADMIN))).status_code == 404
    missing = await api.get(f"/api/v1/v2g/session/{uuid.uuid4()}", headers=auth(ADMIN))
    assert missing.status_code == 404
    stop = await api.post(STOP, json={"sessionId": str(uuid.uuid4())}, headers=auth(ADMIN))
    assert stop.status_code == 404
    bad = await api.post(STOP, json={"sessionId": "x"}, headers=auth(ADMIN))
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "sessionId")


async def test_the_endpoints_are_in_the_openapi_document(api):
    document = (await api.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/api/v1/v2g/discharge/start"]["post"]["x-role"] == "operator"
    assert "409" in paths["/api/v1/v2g/discharge/start"]["post"]["responses"]
    assert paths["/api/v1/v2g/sessions"]["get"]["x-role"] == "viewer"
    assert "/api/v1/v2g/session/{sessionId}" in paths


async def test_the_negotiating_answer_is_documented_with_the_session(api):
    document = (await api.get("/openapi.json")).json()
    responses = document["paths"]["/api/v1/v2g/discharge/start"]["post"]["responses"]
    assert responses["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/V2GSession"
    }
    assert responses["201"]["content"] == responses["202"]["content"]


POWER = "/api/v1/v2g/discharge/power"


async def test_an_operator_changes_a_sessions_power_in_watts(control, api):
    started = (
        await api.post(START, json={"stationId": "CP1", "powerKw": 7}, headers=auth(ADMIN))
    ).json()
    viewer = await api.post(
        POWER, json={"sessionId": started["id"], "powerKw": 3}, headers=auth(VIEWER)
    )
    assert viewer.status_code == 403
    assert control.v2g.power_changes == []
    changed = await api.post(
        POWER, json={"sessionId": started["id"], "powerKw": 3.5}, headers=auth(OPERATOR)
    )
    assert changed.status_code == 200, changed.text
    assert set(changed.json()) == SESSION_KEYS
    assert changed.json()["setpointKw"] == 3.5
    assert control.v2g.power_changes == [(uuid.UUID(started["id"]), Decimal("3500.0"))]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"powerKw": 3}, "sessionId"),
        ({"sessionId": "x", "powerKw": 3}, "sessionId"),
        ({"sessionId": str(uuid.UUID(int=1))}, "powerKw"),
        ({"sessionId": str(uuid.UUID(int=1)), "powerKw": 0}, "powerKw"),
        ({"sessionId": str(uuid.UUID(int=1)), "powerKw": 1001}, "powerKw"),
        ({"sessionId": str(uuid.UUID(int=1)), "powerKw": 3, "evseId": 1}, "evseId"),
    ],
)
async def test_a_bad_power_change_is_422_naming_the_field(control, api, body, field):
    answer = await api.post(POWER, json=body, headers=auth(ADMIN))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert control.v2g.power_changes == []


async def test_a_power_change_of_an_unknown_ended_or_negotiating_session(control, api):
    """404 unknown; 409 ``session_ended`` once it ended, ``session_not_discharging`` while it
    negotiates (its power would be ignored)."""
    missing = await api.post(
        POWER, json={"sessionId": str(uuid.uuid4()), "powerKw": 3}, headers=auth(ADMIN)
    )
    assert missing.status_code == 404
    started = (
        await api.post(START, json={"stationId": "CP1", "powerKw": 7}, headers=auth(ADMIN))
    ).json()
    await api.post(STOP, json={"sessionId": started["id"]}, headers=auth(ADMIN))
    ended = await api.post(
        POWER, json={"sessionId": started["id"], "powerKw": 3}, headers=auth(ADMIN)
    )
    assert (ended.status_code, ended.json()["error"]["code"]) == (409, "session_ended")
    control.v2g.negotiate = True
    waiting = (
        await api.post(START, json={"stationId": "CP2", "powerKw": 7}, headers=auth(ADMIN))
    ).json()
    early = await api.post(
        POWER, json={"sessionId": waiting["id"], "powerKw": 3}, headers=auth(ADMIN)
    )
    assert (early.status_code, early.json()["error"]["code"]) == (409, "session_not_discharging")


async def test_the_power_endpoint_is_in_the_openapi_document(api):
    document = (await api.get("/openapi.json")).json()
    operation = document["paths"][POWER]["post"]
    assert operation["x-role"] == "operator"
    assert {"200", "404", "409", "422"} <= set(operation["responses"])
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DischargePowerBody"
    }
