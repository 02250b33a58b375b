"""The load test against a real node: registration through the REST API, a fleet of a few
hundred stations, and the report."""

from __future__ import annotations

import argparse

import orjson
import trio

from csms.simulator import LoadStats
from csms.simulator._loadtest import LoadTestOptions, register_stations, run_loadtest
from csms.simulator.cli import add_commands, run

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
