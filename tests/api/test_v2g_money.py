"""V2G compensation, payouts, statistics and reports through the REST API of a whole node
(its money actor, PostgreSQL, a fake wallet on loopback): shapes, money as decimal strings,
roles, 422 naming the field, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio

from csms.actors import Node
from csms.api import create_token
from csms.storage import connect, users, v2g_sessions
from csms.storage import stations as station_repo

from ..actors.fake_wallet import FakeWallet, running_fake_wallet
from .conftest import api_node, client

SP = ZoneInfo("America/Sao_Paulo")
T0 = dt.datetime(2026, 6, 10, 16, 40, tzinfo=SP)  # a Wednesday; CEMIG's ponta from 17:00
MINUTE = dt.timedelta(minutes=1)
READINGS = [
    {"at": "2026-06-10T16:40:00-03:00", "exportRegisterWh": 10000.0},
    {"at": "2026-06-10T16:50:00-03:00", "exportRegisterWh": 11000.4},
    {"at": "2026-06-10T17:10:00-03:00", "exportRegisterWh": 13400.9},
    {"at": "2026-06-10T20:30:00Z", "exportRegisterWh": 15201.3},  # 17:30 local
]
MONEY: dict[str, Any] = {
    "v2g.prices.sources.default": {
        "kind": "contract", "ponta": 2, "intermediario": 1, "fora_ponta": "0.5",
    },
    "v2g.compensation.margin_percent": 10,
    "v2g.compensation.margin_rs_per_kwh": "0.05",
    "v2g.wallet.backoff_s": 0,
    "v2g.wallet.interval_s": 0,
}  # fmt: skip
CALCULATE = "/api/v1/v2g/compensation/calculate"
MONEY_PATHS = ("/api/v1/v2g/comp", "/api/v1/v2g/pay", "/api/v1/v2g/stats", "/api/v1/v2g/reports")


def ended_session(database_url: str) -> str:
    """Maria's session 16:40-17:30 local with four export register readings (as READINGS)."""
    with connect(database_url) as conn:
        if station_repo.get(conn, "CP001") is None:
            station_repo.create(conn, "CP001", password_hash="sha256$salt$" + "a" * 64)
            users.create_user(conn, "maria", "Maria", wallet_id="wallet-maria")
        row = v2g_sessions.create(
            conn,
            v2g_sessions.NewSession(
                station_id="CP001", evse_id=1, requested_by="ops", target_power_w=Decimal(7000),
                min_soc_percent=Decimal(30), ocpp_version="ocpp2.1", transaction_id="tx-1",
                user_id="maria",
            ),
        )  # fmt: skip
        conn.execute("UPDATE v2g_sessions SET created_at = %s WHERE id = %s", (T0, row.id))
        for minutes, wh in ((0, "10000.0"), (10, "11000.4"), (30, "13400.9"), (50, "15201.3")):
            conn.execute(
                "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id,"
                " measurand, value) VALUES ('CP001', %s, 1, 'tx-1',"
                " 'Energy.Active.Export.Register', %s)",
                (T0 + minutes * MINUTE, Decimal(wh)),
            )
        v2g_sessions.save(
            conn, row.id, state="completed", started_at=T0, ended_at=T0 + 50 * MINUTE,
            end_reason="soc_floor", export_first_wh=Decimal("10000.0"),
            export_last_wh=Decimal("15201.3"), energy_exported_wh=Decimal("5201.3"),
        )  # fmt: skip
    return str(row.id)


@pytest.fixture
async def wallet(nursery: trio.Nursery) -> AsyncIterator[FakeWallet]:
    async for fake in running_fake_wallet(nursery):
        yield fake


@pytest.fixture
async def money_node(database_url: str, admin_env: str, wallet: FakeWallet) -> AsyncIterator[Node]:
    async with api_node(database_url, **MONEY, **{"v2g.wallet.url": wallet.base_url}) as node:
        yield node


async def test_calculate_readings_across_the_ponta_start_to_the_centavo(money_node: Node) -> None:
    async with client(money_node) as api:
        r = await api.post(CALCULATE, json={"stationId": "CP001", "readings": READINGS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("exportedKwh", "grossRs", "marginRs", "netRs")} == {
        "exportedKwh": "5.2013", "grossRs": "8.20", "marginRs": "1.08", "netRs": "7.12",
    }  # fmt: skip
    assert (body["priceSource"], body["stationGroup"], body["simulated"]) == (
        "contract", "default", False,
    )  # fmt: skip
    assert body["margin"] == {"percent": "10", "rsPerKwh": "0.05"}
    assert body["compensationId"] is None
    assert [(i["exportedKwh"], i["priceRsPerKwh"], i["grossRs"]) for i in body["intervals"]] == [
        ("1.0004", "1", "1.0004"),
        ("1.20025", "1", "1.20025"),
        ("1.20025", "2", "2.4005"),
        ("1.8004", "2", "3.6008"),
    ]
    assert dt.datetime.fromisoformat(body["intervals"][2]["start"]) == T0 + 20 * MINUTE


async def test_calculate_with_another_source_and_bad_bodies_name_the_field(
    money_node: Node,
) -> None:
    async with client(money_node) as api:
        pld = await api.post(
            CALCULATE, json={"stationId": "CP001", "priceSource": "pld", "readings": READINGS}
        )
        assert pld.status_code == 200, pld.text
        assert (pld.json()["priceSource"], pld.json()["simulated"]) == ("pld", True)
        shuffled = [READINGS[1], READINGS[0], *READINGS[2:]]
        naive = [READINGS[0], {"at": "2026-06-10T16:50:00", "exportRegisterWh": 1}]
        for body, field in (
            ({"stationId": "CP001", "readings": shuffled}, "readings.1.at"),
            ({"stationId": "CP001", "readings": naive}, "readings.1.at"),
            ({"stationId": "CP001", "readings": READINGS[:1]}, "readings"),
            ({"readings": READINGS}, "stationId"),
            ({"stationId": "CP001", "readings": [{**READINGS[0], "exportRegisterWh": -1}]},
             "readings.0.exportRegisterWh"),
            ({"stationId": "CP001", "priceSource": "spot", "readings": READINGS}, "priceSource"),
            ({"sessionId": "not-a-uuid"}, "sessionId"),
            ({"sessionId": "5d3c1a7e-8f24-4b0b-b1a2-6c0f4e9d2b17", "stationId": "CP001"},
             "sessionId"),
        ):  # fmt: skip
            r = await api.post(CALCULATE, json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["error"]["field"] == field, (body, r.text)
        missing = await api.post(
            CALCULATE, json={"sessionId": "5d3c1a7e-8f24-4b0b-b1a2-6c0f4e9d2b17"}
        )
        assert missing.status_code == 404


async def test_a_recorded_session_its_payout_stats_and_reports(
    database_url: str, admin_env: str, wallet: FakeWallet
) -> None:
    """A session that ended before the node started is compensated at start and paid."""
    session_id = ended_session(database_url)
    async with (
        api_node(database_url, **MONEY, **{"v2g.wallet.url": wallet.base_url}) as node,
        client(node) as api,
    ):
        with trio.fail_after(30):  # the node pays at start: wait until REST shows it paid
            while True:
                payouts = (await api.get("/api/v1/v2g/payouts")).json()["items"]
                if payouts and payouts[0]["state"] == "paid":
                    break
        (payout,) = payouts
        assert (payout["amountRs"], payout["attempts"], payout["walletId"]) == (
            "7.12", 1, "wallet-maria",
        )  # fmt: skip
        assert payout["sessionId"] == session_id
        assert len(wallet.payments) == 1
        (item,) = (await api.get("/api/v1/v2g/compensations", params={"userId": "maria"})).json()[
            "items"
        ]
        assert (item["sessionId"], item["netRs"], item["payoutState"]) == (
            session_id,
            "7.12",
            "paid",
        )
        detail = (await api.get(f"/api/v1/v2g/compensations/{item['id']}")).json()
        assert len(detail["intervals"]) == 4
        recorded = (await api.post(CALCULATE, json={"sessionId": session_id})).json()
        assert (recorded["compensationId"], recorded["netRs"]) == (item["id"], "7.12")
        assert (await api.get("/api/v1/v2g/compensations", params={"userId": "joao"})).json() == {
            "items": []
        }
        stats = (await api.get("/api/v1/v2g/stats", params={"stationId": "CP001"})).json()
        assert {k: stats[k] for k in ("sessions", "exportedKwh", "netRs", "paidRs")} == {
            "sessions": 1, "exportedKwh": "5.2013", "netRs": "7.12", "paidRs": "7.12",
        }  # fmt: skip
        after = {"from": "2026-06-11T00:00:00Z"}
        assert (await api.get("/api/v1/v2g/stats", params=after)).json()["sessions"] == 0
        report = await api.get("/api/v1/v2g/reports", params={"by": "station", "format": "csv"})
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(report.text)))
        assert rows == [
            ["key", "sessions", "exportedKwh", "grossRs", "marginRs", "netRs", "paidRs",
             "pendingRs", "failedRs"],
            ["CP001", "1", "5.2013", "8.20", "1.08", "7.12", "7.12", "0.00", "0.00"],
        ]  # fmt: skip
        as_json = (await api.get("/api/v1/v2g/reports")).json()
        assert as_json["by"] == "user"
        assert [(r["key"], r["netRs"]) for r in as_json["items"]] == [("maria", "7.12")]
        run = await api.post("/api/v1/v2g/payouts/run")
        assert run.json() == {"enabled": True, "claimed": 0, "paid": 0, "failed": 0, "retrying": 0}
        bad = await api.get("/api/v1/v2g/stats", params={"from": "yesterday"})
        assert (bad.status_code, bad.json()["error"]["field"]) == (422, "from")


async def test_roles(money_node: Node, database_url: str) -> None:
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    async with client(money_node, viewer) as v:
        denied = await v.post(CALCULATE, json={"stationId": "CP001", "readings": READINGS})
        assert denied.status_code == 403
        assert (await v.post("/api/v1/v2g/payouts/run")).status_code == 403
        for path in ("/api/v1/v2g/compensations", "/api/v1/v2g/payouts", "/api/v1/v2g/stats",
                     "/api/v1/v2g/reports"):  # fmt: skip
            assert (await v.get(path)).status_code == 200, path
    async with client(money_node, token=None) as anonymous:
        paths = (await anonymous.get("/openapi.json")).json()["paths"]
    roles = {
        (method.upper(), path): op["x-role"]
        for path, ops in paths.items()
        if path.startswith(MONEY_PATHS)
        for method, op in ops.items()
    }
    assert roles == {
        ("POST", "/api/v1/v2g/compensation/calculate"): "operator",
        ("GET", "/api/v1/v2g/compensations"): "viewer",
        ("GET", "/api/v1/v2g/compensations/{compensationId}"): "viewer",
        ("POST", "/api/v1/v2g/payouts/run"): "operator",
        ("POST", "/api/v1/v2g/payouts/{compensationId}/retry"): "operator",
        ("GET", "/api/v1/v2g/payouts"): "viewer",
        ("GET", "/api/v1/v2g/stats"): "viewer",
        ("GET", "/api/v1/v2g/reports"): "viewer",
    }
    report = paths["/api/v1/v2g/reports"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"application/json", "text/csv"}


async def test_a_failed_payout_is_retried_by_the_operator(
    database_url: str, admin_env: str, wallet: FakeWallet
) -> None:
    session_id = ended_session(database_url)
    wallet.refuse.add("wallet-maria")  # the wallet service refuses it (422): failed at once
    async with (
        api_node(database_url, **MONEY, **{"v2g.wallet.url": wallet.base_url}) as node,
        client(node) as api,
    ):
        with trio.fail_after(30):  # the node pays at start: wait until REST shows it failed
            while True:
                items = (await api.get("/api/v1/v2g/payouts", params={"state": "failed"})).json()
                if items["items"]:
                    break
        (failed,) = items["items"]
        assert (failed["sessionId"], failed["lastError"], failed["attempts"]) == (
            session_id, "HTTP 422", 1,
        )  # fmt: skip
        retry = f"/api/v1/v2g/payouts/{failed['compensationId']}/retry"
        wallet.refuse.clear()
        again = await api.post(retry)
        assert again.status_code == 200, again.text
        assert (again.json()["state"], again.json()["attempts"]) == ("pending", 0)
        run = (await api.post("/api/v1/v2g/payouts/run")).json()
        assert (run["claimed"], run["paid"]) == (1, 1)
        assert len(wallet.payments) == 1
        not_failed = await api.post(retry)
        assert (not_failed.status_code, not_failed.json()["error"]["code"]) == (409, "not_failed")
        unknown = await api.post("/api/v1/v2g/payouts/5d3c1a7e-8f24-4b0b-b1a2-6c0f4e9d2b17/retry")
        assert unknown.status_code == 404
