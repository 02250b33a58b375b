"""One soak run: PostgreSQL (embedded, owned by the soak so it can be stopped), NATS when the
mirror is on, the node as a child process, the fleet, the fault schedule, then the ledger check
and the report."""

from __future__ import annotations

import logging
import pathlib
import platform
import secrets
import time
from typing import Any

import attrs
import trio

from csms.simulator._loadtest import LoadTestOptions, register_stations
from csms.storage import EmbeddedPostgres, migrate_url
from csms.transport.nats_server import EmbeddedNats

from ._asker import CommandAsker
from ._check import check_ledger
from ._faults import FAULTS, FaultResult, Faults, SecondNode
from ._fleet import Fleet
from ._node import NodeProcess
from ._v2g import READINGS_INTERVALS, FaultSpan, V2GDriver
from ._workers import WorkerFleet, default_workers

__all__ = ["SoakOptions", "run_soak"]

log = logging.getLogger("csms.soak")

PASSWORD = "soak-station-password-0123"


@attrs.frozen
class SoakOptions:
    work_dir: pathlib.Path
    stations: int = 200
    duration: float = 60.0  # seconds of faults and load once the fleet is up
    faults: tuple[str, ...] = FAULTS
    rounds: int = 1  # each fault this many times at least (more when the duration allows)
    fault_interval: float = 5.0  # quiet seconds between the recovery of a fault and the next
    outage: float = 3.0  # seconds PostgreSQL or NATS is down, or the hot table locked
    recovery_timeout: float = 120.0
    nats: bool = True
    scenario: str = "transactions"
    ramp: float = 200.0
    meter_interval: float = 5.0
    heartbeat_interval: float = 30.0
    charge_seconds: float = 20.0
    idle_seconds: float = 5.0
    progress_interval: float = 5.0
    workers: int | None = None  # fleet processes; None: `default_workers`; below 2: in-process
    commands_per_s: float = 1.0  # REST commands asked of random stations (`CommandAsker`)
    seed: int = 0  # of the commands' schedule and choices
    v2g_share: float = 0.0  # of the stations: OCPP 2.1 with a V2X EV, discharges asked (`_v2g`)
    nodes: int = 1  # `csms serve` processes on the one database and NATS (2: fault node-kill)

    def fleet_options(self, server: str, api: str) -> LoadTestOptions:
        return LoadTestOptions(
            server=server,
            api=api,
            password=PASSWORD,
            stations=self.stations,
            ramp=self.ramp,
            scenario=self.scenario,
            id_prefix="SOAK",
            heartbeat_interval=self.heartbeat_interval,
            meter_interval=self.meter_interval,
            charge_seconds=self.charge_seconds,
            idle_seconds=self.idle_seconds,
            v2g_share=self.v2g_share,
        )


async def run_soak(options: SoakOptions) -> dict[str, Any]:
    work = options.work_dir
    work.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(work)
    url = await trio.to_thread.run_sync(postgres.start)
    nats: EmbeddedNats | None = None
    try:
        await trio.to_thread.run_sync(migrate_url, url)
        if options.nats:
            nats = EmbeddedNats(work / "nats")
            await trio.to_thread.run_sync(nats.start)
        token = secrets.token_urlsafe(24)
        nodes = [
            NodeProcess(
                database_url=url,
                data_dir=work / ("node" if index == 1 else f"node-{index}"),
                admin_token=token,
                nats_url=nats.url if nats is not None else None,
                # the scale-out setup (docs/SCALING.md): one id each, one database, one NATS
                extra_env={"CSMS_NODE__ID": node_id(index)} if options.nodes > 1 else None,
            )
            for index in range(1, options.nodes + 1)
        ]
        try:
            for node in nodes:
                await node.start()
            return await _soak(options, nodes, postgres, nats, url)
        finally:
            for node in nodes:
                await node.stop()
    finally:
        if nats is not None:
            await trio.to_thread.run_sync(nats.stop)
        await trio.to_thread.run_sync(postgres.stop)


def node_id(index: int) -> str:
    """The id of the soak's ``index``-th node (1-based) when it runs more than one."""
    return f"soak-node-{index}"


async def _soak(
    options: SoakOptions,
    nodes: list[NodeProcess],
    postgres: EmbeddedPostgres,
    nats: EmbeddedNats | None,
    url: str,
) -> dict[str, Any]:
    node, others = nodes[0], nodes[1:]
    fleet_options = attrs.evolve(
        options.fleet_options(node.ocpp_url, f"http://127.0.0.1:{node.http_port}"),
        more_servers=tuple(n.ocpp_url for n in others),
    )
    await register_stations(fleet_options, node.admin_token)
    v2g_indexes = [i for i in range(options.stations) if fleet_options.in_v2g_share(i)]
    v2g = V2GDriver(
        api=fleet_options.api,
        token=node.admin_token,
        station_ids=[fleet_options.station_id(i) for i in v2g_indexes],
    )
    await v2g.setup(
        {fleet_options.station_id(i): fleet_options.behaviour(i)[1].id_token for i in v2g_indexes}
    )
    workers = default_workers(options.stations) if options.workers is None else options.workers
    fleet: Fleet | WorkerFleet = (
        WorkerFleet(fleet_options, workers, options.work_dir / "fleet")
        if workers >= 2
        else Fleet(fleet_options)
    )
    faults = Faults(
        fleet=fleet,
        node=node,
        postgres=postgres,
        nats=nats,
        outage=options.outage,
        recovery_timeout=options.recovery_timeout,
        second=SecondNode(others[0], node_id(1), node_id(2)) if others else None,
        station_ids=[fleet_options.station_id(i) for i in range(options.stations)],
    )
    kinds = faults.available(options.faults)
    results: list[FaultResult] = []
    memory: dict[str, int] = {}
    node_exits = 0
    async with trio.open_nursery() as nursery:
        begin = trio.current_time()
        await nursery.start(fleet.run)
        with trio.move_on_after(options.recovery_timeout):
            await fleet.all_online()
        up = trio.current_time()
        log.info("fleet up", extra={"online": fleet.online(), "seconds": round(up - begin, 1)})
        faults.quiet_since = time.time()  # the first fault's baseline starts with the fleet up
        memory["start_kib"] = memory["max_kib"] = node.rss_kib()
        acked_at_up = fleet.messages
        nursery.start_soon(_progress, options, fleet, node, memory, up, results)
        asker = CommandAsker(
            api=fleet_options.api,
            token=node.admin_token,
            station_ids=[fleet_options.station_id(i) for i in range(options.stations)],
            per_second=options.commands_per_s,
            seed=options.seed,
        )
        nursery.start_soon(asker.run)
        nursery.start_soon(v2g.run)
        index = 0
        while kinds and (
            index < len(kinds) * options.rounds or trio.current_time() - up < options.duration
        ):
            await trio.sleep(options.fault_interval)  # the schedule's quiet time, not a wait
            for one in nodes:
                if not one.alive:  # died by itself: counted, and started again
                    node_exits += 1
                    await one.start()
            results.append(await faults.inject(kinds[index % len(kinds)], trio.current_time() - up))
            index += 1
        if not kinds:
            await trio.sleep(options.duration)
        readings_since = time.time()
        if v2g.station_ids and results:  # the active sessions' readings after the last fault
            await trio.sleep(READINGS_INTERVALS * options.meter_interval)
        loaded = trio.current_time() - up
        acked = fleet.messages - acked_at_up
        memory["end_kib"] = node.rss_kib()
        asker.stop()
        v2g.stop()
        with trio.move_on_after(options.recovery_timeout) as drain:
            await asker.done.wait()  # an answered command may still make a station send
            await v2g.done.wait()
            await fleet.drained()
        await fleet.finish()  # workers stop their stations and write their ledgers
        nursery.cancel_scope.cancel()  # the fleet stops at once: what is in flight is pending
    pending = fleet.pending()
    for one in nodes:
        await one.stop()  # the node flushes what it holds: pending messages are settled now
    check = await trio.to_thread.run_sync(
        check_ledger,
        url,
        fleet.entries(),
        pending,
        fleet.ends(),
        fleet.deliveries(),
        asker.asked,
        [FaultSpan(r.kind, r.wall_start, r.wall_end) for r in results],
        readings_since,
    )
    report = fleet.stats.report(seconds=loaded, stations=options.stations)
    ok = check.ok and not drain.cancelled_caught and node_exits == 0
    ok = ok and all(r.passed for r in results)
    return {
        "ok": ok,
        "stations": options.stations,
        "scenario": options.scenario,
        "fleet_workers": workers if workers >= 2 else 1,
        "seconds": round(loaded, 1),
        "ramp_seconds": round(up - begin, 1),
        "messages": acked,
        "messages_per_second": round(acked / loaded, 1) if loaded > 0 else 0.0,
        "faults": [r.dump() for r in results],
        "fault_summary": _summary(results),
        "node_unplanned_exits": node_exits,
        "node_starts": node.starts,
        "nodes": [{"id": node_id(i + 1), "starts": n.starts} for i, n in enumerate(nodes)],
        "drained": not drain.cancelled_caught,
        "ledger": check.dump(),
        "commands": asker.summary(),
        "v2g": {**v2g.summary(), "sessions_at_faults": check.v2g_sessions_at_faults},
        "memory": memory,
        "errors": report["errors"],
        "error_kinds": report["error_kinds"],
        "actions": report["actions"],
        "nats": nats is not None,
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
    }


async def _progress(
    options: SoakOptions,
    fleet: Fleet | WorkerFleet,
    node: NodeProcess,
    memory: dict[str, int],
    up: float,
    results: list[FaultResult],
) -> None:
    last, last_at = fleet.messages, trio.current_time()
    while True:
        await trio.sleep(options.progress_interval)
        now, messages = trio.current_time(), fleet.messages
        rss = node.rss_kib()
        memory["max_kib"] = max(memory["max_kib"], rss)
        log.info(
            "soak progress",
            extra={
                "elapsed": round(now - up, 1),
                "online": fleet.online(),
                "stations": options.stations,
                "acknowledged": messages,
                "per_second": round((messages - last) / max(now - last_at, 1e-9), 1),
                "faults": len(results),
                "node_rss_kib": rss,
            },
        )
        last, last_at = messages, now


def _summary(results: list[FaultResult]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        row = out.setdefault(
            r.kind,
            {"count": 0, "recovered": 0, "recovery_max_s": 0.0, "latency_recovered_max_s": None},
        )
        row["count"] += 1
        if r.passed and r.recovery_s is not None:
            row["recovered"] += 1
            row["recovery_max_s"] = max(row["recovery_max_s"], r.recovery_s)
        if r.latency_recovered_s is not None:
            latest = row["latency_recovered_max_s"] or 0.0
            row["latency_recovered_max_s"] = max(latest, r.latency_recovered_s)
    return out


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _commands_line(commands: dict[str, Any], ledger: dict[str, Any]) -> str:
    return (
        f"| REST commands asked / answered / station error / timed out / refused / unreachable |"
        f" {commands['asked']} / {commands['answered']} / {commands['station_error']} /"
        f" {commands['timed_out'] + commands['client_timeout']} / {commands['refused']} /"
        f" {commands['unreachable']} ({ledger['commands_delivered']} CALLs received) |"
    )


def _errors_line(errors: int, kinds: dict[str, int]) -> str:
    """The station errors, with those a station cannot leave unnoticed (it reconnects after
    them): handshakes the CSMS did not finish in time, errors the station did not expect."""
    prefix = "unexpected:"
    unexpected = [f"{k.removeprefix(prefix)} {n}" for k, n in kinds.items() if k.startswith(prefix)]
    named = ", ".join(sorted(unexpected)) or "none"
    timeouts = kinds.get("handshake_timeout", 0)
    return f"| station errors | {errors} (handshake timeouts {timeouts}; unexpected: {named}) |"


def format_report(report: dict[str, Any]) -> str:
    """The report as the table of docs/RELIABILITY.md."""
    ledger = report["ledger"]
    memory = report["memory"]
    lines = [
        f"| stations | {report['stations']} ({report['scenario']}) |",
        f"| load held | {report['messages_per_second']} msg/s over {report['seconds']} s |",
        f"| acknowledged / stored events | {ledger['acknowledged_events']} / "
        f"{ledger['stored_events']} (pending at stop {ledger['pending']}) |",
        f"| duplicates | {ledger['duplicates']} |",
        f"| ledger violations | {ledger['violations']} |",
        f"| node memory start / max / end | {memory.get('start_kib', 0) // 1024} / "
        f"{memory.get('max_kib', 0) // 1024} / {memory.get('end_kib', 0) // 1024} MiB |",
        f"| unplanned node exits | {report['node_unplanned_exits']} |",
        _commands_line(report["commands"], ledger),
        f"| V2G stations / sessions started / active at a fault | {report['v2g']['stations']} /"
        f" {report['v2g']['sessions_started']} / {report['v2g']['sessions_at_faults']} |",
        _errors_line(report["errors"], report["error_kinds"]),
    ]
    for kind, row in report["fault_summary"].items():
        lines.append(
            f"| fault {kind} | {row['count']} times, {row['recovered']} recovered, "
            f"max {row['recovery_max_s']} s, latency back max {row['latency_recovered_max_s']} s |"
        )
    return "| figure | value |\n|---|---|\n" + "\n".join(lines)
