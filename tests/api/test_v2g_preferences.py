"""V2G preferences, capability and bidirectional stations through the API, against the real
database; the OpenAPI document lists the endpoints with their roles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio

from csms.actors import Node
from csms.api import create_token
from csms.storage import connect
from csms.storage import v2g as v2g_repo

from .conftest import PASSWORD, client

PREFERENCES = "/api/v1/v2g/preferences"
BODY: dict[str, Any] = {
    "userId": "maria",
    "optIn": True,
    "minSocPercent": 30,
    "maxDischargeKw": 7.4,
    "windows": [
        {"days": ["Mon", "Fri"], "start": "18:00", "end": "21:00"},
        {"days": ["Sat"], "start": "22:00", "end": "06:00"},
    ],
    "maxCyclesPerDay": 2,
    "departureEnergyKwh": 20,
    "departureTime": "07:30",
}


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    return error


@pytest.fixture
async def maria(api: httpx.AsyncClient) -> str:
    assert (await api.post("/api/v1/users", json={"userId": "maria", "name": "Maria"})).is_success
    return "maria"


async def test_preferences_round_trip(api: httpx.AsyncClient, maria: str) -> None:
    r = await api.post(PREFERENCES, json=BODY)
    assert r.status_code == 200, r.text
    assert r.json() == BODY
    assert (await api.get(PREFERENCES, params={"userId": maria})).json() == BODY
    # replaced as a whole: what is left out takes its default
    r = await api.post(
        PREFERENCES,
        json={"userId": maria, "optIn": False, "minSocPercent": 12.5, "maxDischargeKw": 3.68},
    )
    assert r.json() == {
        "userId": "maria",
        "optIn": False,
        "minSocPercent": 12.5,
        "maxDischargeKw": 3.68,
        "windows": [],
        "maxCyclesPerDay": 1,
        "departureEnergyKwh": None,
        "departureTime": None,
    }
    assert (await api.get(PREFERENCES, params={"userId": maria})).json() == r.json()


async def test_preferences_of_a_missing_user(api: httpx.AsyncClient, maria: str) -> None:
    r = await api.post(PREFERENCES, json={**BODY, "userId": "nobody"})
    assert error_of(r, 404)["code"] == "not_found"
    error_of(await api.get(PREFERENCES, params={"userId": "nobody"}), 404)
    error_of(await api.get(PREFERENCES, params={"userId": maria}), 404)  # none set yet
    assert error_of(await api.get(PREFERENCES), 422)["field"] == "userId"
    assert error_of(await api.get(PREFERENCES, params={"userId": "a b"}), 422)["field"] == "userId"


def window(**changes: Any) -> list[dict[str, Any]]:
    return [{"days": ["Mon"], "start": "18:00", "end": "21:00", **changes}]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"userId": ""}, "userId"),
        ({"optIn": None}, "optIn"),
        ({"optIn": "yes"}, "optIn"),
        ({"minSocPercent": 9}, "minSocPercent"),
        ({"minSocPercent": 9.99}, "minSocPercent"),
        ({"minSocPercent": 100.5}, "minSocPercent"),
        ({"minSocPercent": "30"}, "minSocPercent"),
        ({"maxDischargeKw": 0}, "maxDischargeKw"),
        ({"maxDischargeKw": -7.4}, "maxDischargeKw"),
        ({"maxDischargeKw": 1000.1}, "maxDischargeKw"),
        ({"windows": {"days": ["Mon"]}}, "windows"),
        ({"windows": window(days=[])}, "windows.0.days"),
        ({"windows": window(days=["Mon", "Funday"])}, "windows.0.days.1"),
        ({"windows": window(days=["mon"])}, "windows.0.days.0"),
        ({"windows": window(start="24:00")}, "windows.0.start"),
        ({"windows": window(start="7:00")}, "windows.0.start"),
        ({"windows": [*window(), *window(end="21:60")]}, "windows.1.end"),
        ({"windows": window(weeks=[1])}, "windows.0.weeks"),
        ({"maxCyclesPerDay": -1}, "maxCyclesPerDay"),
        ({"maxCyclesPerDay": 0}, "maxCyclesPerDay"),
        ({"maxCyclesPerDay": 1.5}, "maxCyclesPerDay"),
        ({"departureEnergyKwh": -1}, "departureEnergyKwh"),
        ({"departureTime": "25:00"}, "departureTime"),
        ({"departureTime": "07:30:00"}, "departureTime"),
        ({"walletId": "w"}, "walletId"),
    ],
)
async def test_a_bad_preference_is_422_naming_the_field(
    api: httpx.AsyncClient, maria: str, changes: dict[str, Any], field: str
) -> None:
    r = await api.post(PREFERENCES, json={**BODY, **changes})
    assert error_of(r, 422)["field"] == field
    error_of(await api.get(PREFERENCES, params={"userId": maria}), 404)  # nothing was stored


async def test_viewers_read_preferences_and_operators_set_them(
    node: Node, database_url: str, api: httpx.AsyncClient, maria: str
) -> None:
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    operator = await trio.to_thread.run_sync(create_token, database_url, "operator", "ops")
    async with client(node, viewer) as v, client(node, operator) as o:
        error_of(await v.post(PREFERENCES, json=BODY), 403)
        assert (await o.post(PREFERENCES, json=BODY)).status_code == 200
        assert (await v.get(PREFERENCES, params={"userId": maria})).json() == BODY
        error_of(await v.post("/api/v1/stations", json={"id": "CP9", "password": PASSWORD}), 403)
        assert (await v.get("/api/v1/v2g/capability/CP9")).status_code == 404


async def test_capability_of_a_bidirectional_station(
    node: Node, database_url: str, api: httpx.AsyncClient
) -> None:
    r = await api.post(
        "/api/v1/stations", json={"id": "CP-V2G", "password": PASSWORD, "bidirectional": True}
    )
    assert r.status_code == 201, r.text
    assert r.json()["bidirectional"] is True
    assert (await api.get("/api/v1/stations/CP-V2G")).json()["bidirectional"] is True
    r = await api.post("/api/v1/stations", json={"id": "CP-UNI", "password": PASSWORD})
    assert r.json()["bidirectional"] is False
    r = await api.post(
        "/api/v1/stations", json={"id": "CP-X", "password": PASSWORD, "bidirectional": "yes"}
    )
    assert error_of(r, 422)["field"] == "bidirectional"
    assert (await api.get("/api/v1/v2g/capability/CP-V2G")).json() == {"items": []}
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    row = v2g_repo.CapabilityRow(
        station_id="CP-V2G",
        evse_id=1,
        ev_id="EVCCID-1",
        bidirectional=True,
        energy_transfer_modes=["DC", "DC_BPT"],
        max_charge_power_w=Decimal(50000),
        max_discharge_power_w=Decimal("11000.5"),
        battery_capacity_wh=None,
        source="v2x_parameters",
        raw={"chargingNeeds": {"requestedEnergyTransfer": "DC_BPT"}},
        updated_at=at,
    )
    with connect(database_url) as conn:
        v2g_repo.upsert_capability(conn, row)
        conn.commit()
    assert (await api.get("/api/v1/v2g/capability/CP-V2G")).json() == {
        "items": [
            {
                "stationId": "CP-V2G",
                "evseId": 1,
                "evId": "EVCCID-1",
                "bidirectional": True,
                "energyTransferModes": ["DC", "DC_BPT"],
                "maxChargePowerW": 50000.0,
                "maxDischargePowerW": 11000.5,
                "batteryCapacityWh": None,
                "source": "v2x_parameters",
                "raw": {"chargingNeeds": {"requestedEnergyTransfer": "DC_BPT"}},
                "updatedAt": "2026-03-02T09:00:00+00:00",
            }
        ]
    }
    error_of(await api.get("/api/v1/v2g/capability/CP-NONE"), 404)


async def test_the_openapi_document_lists_users_and_v2g_with_their_roles(node: Node) -> None:
    async with client(node, token=None) as anonymous:
        paths = (await anonymous.get("/openapi.json")).json()["paths"]
    roles = {
        (method.upper(), path): op["x-role"]
        for path, ops in paths.items()
        if path.startswith(("/api/v1/users", "/api/v1/v2g/preferences", "/api/v1/v2g/capab"))
        for method, op in ops.items()
    }
    assert roles == {
        ("POST", "/api/v1/users"): "operator",
        ("GET", "/api/v1/users"): "viewer",
        ("GET", "/api/v1/users/{userId}"): "viewer",
        ("POST", "/api/v1/users/{userId}/id-tokens"): "operator",
        ("POST", "/api/v1/v2g/preferences"): "operator",
        ("GET", "/api/v1/v2g/preferences"): "viewer",
        ("GET", "/api/v1/v2g/capability/{stationId}"): "viewer",
    }
    body = paths["/api/v1/v2g/preferences"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/V2GPreferencesBody"}
