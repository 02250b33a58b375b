"""The load test against a real node: registration through the REST API, a fleet of a few
hundred stations, and the report."""

from __future__ import annotations

import argparse

import httpx
import orjson
import trio

from csms.simulator import LoadStats
from csms.simulator._loadtest import LoadTestOptions, register_stations, run_loadtest
from csms.simulator.cli import add_commands, run
from csms.storage import connect

from .conftest import running_node

ADMIN = "loadtest-admin-token-0123456789"


def options(node, **changes) -> LoadTestOptions:
    host, port = node.http_addresses[0]
    defaults = dict(
        server=f"ws://127.0.0.1:{node.ocpp_port}/ocpp",
        api=f"http://{host}:{port}",
        password="loadtest-password-0123",
        stations=300,
        ramp=300.0,
        duration=3.0,
        scenario="mixed",
        heartbeat_interval=1.0,
        meter_interval=0.5,
        charge_seconds=1.5,
        idle_seconds=0.5,
    )
    return LoadTestOptions(**{**defaults, **changes})


async def test_a_few_hundred_stations_run_the_mixed_scenario_without_errors(
    database_url, monkeypatch
):
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN)
    seen: list[dict] = []
    async with running_node(database_url) as node:
        opts = options(node)
        assert await register_stations(opts, ADMIN) == 300
        assert await register_stations(opts, ADMIN) == 0  # existing ones are left alone
        stats = LoadStats()
        with trio.fail_after(50):
            report = await run_loadtest(opts, progress=seen.append, stats=stats)
    assert report["errors"] == 0, report["error_kinds"]
    assert report["connected"] == 300
    actions = report["actions"]
    assert actions["BootNotification"]["count"] == 300
    assert actions["StatusNotification"]["count"] >= 300
    assert actions["Heartbeat"]["count"] > 0
    assert actions["TransactionEvent"]["count"] > 0
    for row in actions.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert seen
    assert seen[-1]["started"] == 300


async def test_a_hundred_charging_stations_keep_the_writer_on_its_fast_path(
    database_url, monkeypatch
):
    """Whole transactions from 100 stations through the real listener: every batch the writer
    committed went whole in one pipelined round trip (none was refused and replayed group by
    group), /metrics says so, and every acknowledged TransactionEvent is in the database."""
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN)
    async with running_node(database_url) as node:
        opts = options(node, stations=100, ramp=200.0, duration=2.0, scenario="transactions")
        assert await register_stations(opts, ADMIN) == 100
        with trio.fail_after(50):
            report = await run_loadtest(opts)
        status = node.persistence_status
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(base_url=opts.api, headers=headers) as api:
            metrics = (await api.get("/metrics")).text
    assert report["errors"] == 0, report["error_kinds"]
    acknowledged = report["actions"]["TransactionEvent"]["count"]
    assert acknowledged >= 100
    assert status.fast_path_batches > 0
    assert status.replayed_batches == 0
    assert status.rejected_writes == 0
    assert "csms_persistence_replayed_batches_total 0" in metrics
    assert f"csms_persistence_fast_path_batches_total {status.fast_path_batches}" in metrics
    with connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM transaction_events").fetchone()
    assert row is not None
    assert row[0] >= acknowledged  # acknowledged only once committed; stored once (primary key)


async def test_loadtest_command_with_workers_registers_and_writes_json(
    database_url, monkeypatch, tmp_path
):
    """`csms loadtest --register --workers 2 --json FILE` end to end (worker processes)."""
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN)
    parser = argparse.ArgumentParser()
    common = argparse.ArgumentParser(add_help=False)
    commands = parser.add_subparsers(dest="command")
    add_commands(commands, common)
    out = tmp_path / "report.json"
    async with running_node(database_url) as node:
        opts = options(node)
        args = parser.parse_args(
            [
                "loadtest",
                "--server", opts.server,
                "--api", opts.api,
                "--stations", "40",
                "--ramp", "200",
                "--duration", "2",
                "--scenario", "transactions",
                "--register",
                "--workers", "2",
                "--json", str(out),
                "--heartbeat-interval", "1",
                "--meter-interval", "0.5",
                "--charge-seconds", "1",
                "--idle-seconds", "0.5",
            ]
        )  # fmt: skip
        with trio.fail_after(50):
            status = await trio.to_thread.run_sync(run, args)
    report = orjson.loads(out.read_bytes())
    assert status == 0
    assert report["errors"] == 0
    assert report["workers"] == 2
    assert report["actions"]["BootNotification"]["count"] == 40
    assert report["actions"]["TransactionEvent"]["count"] > 0
