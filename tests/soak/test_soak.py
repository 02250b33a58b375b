"""The short soak: a few hundred stations against a node in a child process, one
fault of each kind (SIGKILL and restart, PostgreSQL stopped, the hot table locked, every socket
closed at once, NATS stopped), then the ledger: every acknowledged message stored exactly once,
nothing else stored, every station back; commands asked through the REST API meanwhile, each
answered one received exactly once."""

from __future__ import annotations

import orjson

from csms.cli import main
from csms.soak._faults import FAULTS
from csms.soak._run import SoakOptions, format_report, run_soak

STATIONS = 150


def short(tmp_path, **options) -> SoakOptions:
    """One round of the faults is the run; stations charge a few seconds, meter every second."""
    quick = {"duration": 0.0, "fault_interval": 1.0, "meter_interval": 1.0, "idle_seconds": 1.0}
    return SoakOptions(work_dir=tmp_path / "soak", heartbeat_interval=10.0, **{**quick, **options})


async def test_a_short_soak_with_one_fault_of_each_kind_loses_and_duplicates_nothing(tmp_path):
    options = short(
        tmp_path,
        stations=STATIONS,
        outage=2.0,
        charge_seconds=4.0,
        progress_interval=2.0,
        commands_per_s=4.0,
    )
    report = await run_soak(options)
    ledger = report["ledger"]
    assert ledger["violation_records"] == []
    commands = report["commands"]
    assert commands["answered"] > 0  # the command checks had material
    assert ledger["commands_answered"] == commands["answered"] + commands["station_error"]
    assert ledger["commands_delivered"] >= ledger["commands_answered"]
    assert [f["kind"] for f in report["faults"]] == [f for f in FAULTS if f != "node-kill"]
    assert all(f["recovered"] for f in report["faults"]), report["faults"]
    # TransactionEvents flowed before every fault: each judged, its p99 back to normal after
    assert all(f["latency_recovered"] for f in report["faults"]), report["faults"]
    assert all(f["latency_recovered_s"] is not None for f in report["faults"])
    assert report["faults"][3]["detail"] == f"{STATIONS} sockets closed"
    assert report["node_starts"] == 2  # the SIGKILL's restart, and no other
    assert report["node_unplanned_exits"] == 0
    assert report["drained"]
    assert ledger["acknowledged_events"] > STATIONS
    acked, stored = ledger["acknowledged_events"], ledger["stored_events"]
    assert acked <= stored <= acked + ledger["pending"]
    assert ledger["duplicates"] == 0
    assert report["ok"]
    assert report["memory"]["start_kib"] > 0
    assert report["memory"]["end_kib"] > 0
    table = format_report(report)
    assert "| fault kill | 1 times, 1 recovered" in table
    assert "| duplicates | 0 |" in table
    assert "unexpected: none) |" in table  # no station error its connection loop did not expect
    assert "| V2G stations / sessions started / active at a fault | 0 / 0 / 0 |" in table


def test_soak_command_refuses_an_unknown_fault(capsys):
    assert main(["soak", "--faults", "kill,meteor"]) == 2
    assert "unknown fault 'meteor'" in capsys.readouterr().err


def test_soak_command_without_faults_runs_a_clean_fleet_and_writes_json(tmp_path):
    out = tmp_path / "report.json"
    status = main(
        ["soak", "--stations", "5", "--duration", "0", "--faults", "", "--no-nats",
         "--work-dir", str(tmp_path / "w"), "--json", str(out)]
    )  # fmt: skip
    report = orjson.loads(out.read_bytes())
    assert status == 0
    assert report["faults"] == []
    assert report["ledger"]["violations"] == 0
    assert report["nats"] is False


async def test_a_soak_with_the_fleet_in_two_worker_processes_merges_their_ledgers(tmp_path):
    """``csms soak --workers 2``: each worker runs a slice of the stations and writes its own
    ledger into the run directory; the merged ledger checks out, and a fault reaches every
    worker's stations (the disconnect closes all of them, all come back). A quarter of the
    stations are 2.1 stations with V2X EVs whose owners opted in: discharges are started on
    them, and every session active at a fault is settled at the end."""
    stations = 40
    options = short(
        tmp_path,
        stations=stations,
        faults=("disconnect", "kill"),
        charge_seconds=8.0,
        nats=False,
        workers=2,
        v2g_share=0.25,
    )
    report = await run_soak(options)
    ledger = report["ledger"]
    assert report["fleet_workers"] == 2
    assert ledger["violation_records"] == []
    assert report["v2g"]["stations"] == stations // 4
    assert report["v2g"]["sessions_started"] > 0
    assert ledger["v2g_sessions_at_faults"] > 0  # the check had material
    assert report["faults"][0]["detail"] == f"{stations} sockets closed"
    assert all(f["recovered"] for f in report["faults"]), report["faults"]
    assert report["ok"]
    slices = [orjson.loads((tmp_path / "soak" / "fleet" / f"fleet-worker-{i}.json").read_bytes())
              for i in range(2)]  # fmt: skip
    assert sorted(len(s["ends"]) for s in slices) == [stations // 2, stations // 2]
    ids = {end[0] for s in slices for end in s["ends"]}
    assert ids == {f"SOAK{i:06d}" for i in range(stations)}
    acked = {tuple(e[:4]) for s in slices for e in s["acknowledged"] if e[3] is not None}
    assert len(acked) == ledger["acknowledged_events"] > stations


async def test_a_soak_on_two_nodes_survives_the_second_one_killed(tmp_path):
    """``csms soak --nodes 2``: two nodes on one PostgreSQL and NATS, the stations spread over
    both, each given both URLs. ``kill`` takes node 1 (its stations fail over to node 2 or come
    back to the restarted node 1); ``node-kill`` SIGKILLs node 2: it has recovered once every
    station is online on node 1 with what it held acknowledged and no presence row names node
    2 (the survivor reaped it); node 2 is started again afterwards. Commands asked meanwhile
    reach stations on either node. A fifth of the stations are V2X EVs discharging: each
    session active at a fault is settled at the end, run by the node its station is on."""
    stations = 30
    options = short(
        tmp_path,
        stations=stations,
        faults=("kill", "node-kill"),
        charge_seconds=8.0,
        nodes=2,
        commands_per_s=4.0,
        v2g_share=0.2,
    )
    report = await run_soak(options)
    ledger = report["ledger"]
    assert ledger["violation_records"] == []
    assert [f["kind"] for f in report["faults"]] == ["kill", "node-kill"]
    assert all(f["recovered"] for f in report["faults"]), report["faults"]
    assert report["faults"][1]["detail"].startswith("SIGKILL of node soak-node-2 (pid ")
    assert report["nodes"] == [
        {"id": "soak-node-1", "starts": 2},  # the kill's restart
        {"id": "soak-node-2", "starts": 2},  # started again after the node-kill's recovery
    ]
    assert report["node_unplanned_exits"] == 0
    assert report["commands"]["answered"] > 0
    assert report["v2g"]["sessions_started"] > 0
    assert ledger["v2g_sessions_at_faults"] > 0  # the check had material
    assert report["ok"]
