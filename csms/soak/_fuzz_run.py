"""``csms soak --fuzz N``: the wire fuzzer against a node in a child process (its own embedded
PostgreSQL), a canary station charging throughout, and the report: seed, frames by kind,
outcomes, Part 4 violations, actor crashes (from /metrics), node memory, canary health."""

from __future__ import annotations

import itertools
import logging
import pathlib
import secrets
from typing import Any

import httpx
import trio

from csms.simulator import Behaviour, Ev, ReconnectBackoff, StationConfig, open_simulator
from csms.simulator._loadtest import LoadTestOptions, register_stations
from csms.storage import EmbeddedPostgres

from ._fuzz import FuzzOptions, FuzzResult, fuzz_connection, plan
from ._node import NodeProcess

__all__ = ["run_fuzz_against_node"]

log = logging.getLogger("csms.soak")

PASSWORD = "fuzz-station-password-0123"


async def _crashes(api: str, token: str) -> float:
    """Crashes the node's supervisors saw so far (csms_actor_crashes_total, every actor)."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("csms_actor_crashes_total")
    )


async def run_fuzz_against_node(options: FuzzOptions, work: pathlib.Path) -> dict[str, Any]:
    postgres = EmbeddedPostgres(work)
    url = await trio.to_thread.run_sync(postgres.start)
    node = NodeProcess(
        database_url=url,
        data_dir=work / "node",
        admin_token=secrets.token_urlsafe(24),
        extra_env={"CSMS_OCPP__MAX_MESSAGE_SIZE": str(options.max_message_size)},
    )
    try:
        await node.start()
        try:
            return await _fuzz(options, node)
        finally:
            await node.stop()
    finally:
        await trio.to_thread.run_sync(postgres.stop)


async def _fuzz(options: FuzzOptions, node: NodeProcess) -> dict[str, Any]:
    api = f"http://127.0.0.1:{node.http_port}"
    fleet = LoadTestOptions(
        server=node.ocpp_url,
        api=api,
        password=PASSWORD,
        stations=options.connections + 1,
        id_prefix="FUZZ",
        scenario="transactions",
    )
    await register_stations(fleet, node.admin_token)
    canary_id = fleet.station_id(options.connections)  # the last one registered
    canary = StationConfig(
        station_id=canary_id,
        server=node.ocpp_url,
        password=PASSWORD,
        ev=Ev(id_token=f"{canary_id}-EV"),
        meter_interval=0.5,
        heartbeat_interval=5.0,
        backoff=ReconnectBackoff(wait_minimum=0.5, random_range=0.5, repeat_times=2),
        retry_interval=0.5,
        behaviour=Behaviour("transactions", charge_seconds=2.0, idle_seconds=0.5),
        seed=1,
    )
    crashes_before = await _crashes(api, node.admin_token)
    result = FuzzResult()
    frames = plan(options)
    memory = {"start_kib": node.rss_kib(), "max_kib": node.rss_kib()}
    async with open_simulator(canary) as sim:
        with trio.fail_after(60):
            await sim.state.wait_for(lambda: sim.state.online)
        began = trio.current_time()
        async with trio.open_nursery() as nursery:

            async def watch_memory() -> None:
                total = sum(len(mine) for mine in frames)
                for second in itertools.count(1):
                    memory["max_kib"] = max(memory["max_kib"], node.rss_kib())
                    if second % 10 == 0:  # a 1,000,000-frame run takes minutes: show progress
                        log.info(
                            "fuzz progress",
                            extra={
                                "frames": sum(result.sent.values()),
                                "of": total,
                                "violations": len(result.violations),
                                "rss_kib": memory["max_kib"],
                            },
                        )
                    await trio.sleep(1.0)  # a sampling period, not a synchronisation

            nursery.start_soon(watch_memory)
            async with trio.open_nursery() as fuzzers:
                for i, mine in enumerate(frames):
                    fuzzers.start_soon(
                        fuzz_connection, node.ocpp_port, fleet.station_id(i), PASSWORD, mine, result
                    )
            nursery.cancel_scope.cancel()
        seconds = trio.current_time() - began
        acked_during = sim.state.sent["TransactionEvent"]
        # the canary is drained: what it sent during the fuzz was answered
        with trio.fail_after(60):
            await sim.state.wait_for(lambda: sim.state.online and not sim.state.queue)
        canary_report = {
            "online": sim.state.online,
            "connection_attempts": sim.state.attempts,
            "boots": sim.state.boots,
            "errors": list(sim.state.errors),
            "transaction_events_acknowledged": acked_during,
        }
    memory["end_kib"] = node.rss_kib()
    crashes = await _crashes(api, node.admin_token) - crashes_before
    alive = node.alive
    ok = (
        alive
        and not result.violations
        and crashes == 0
        and canary_report["connection_attempts"] == 1
        and not canary_report["errors"]
    )
    return {
        "ok": ok,
        "seed": options.seed,
        "frames": sum(result.sent.values()),
        "connections": options.connections,
        "reconnections": result.connections - options.connections,
        "seconds": round(seconds, 1),
        "frames_per_second": round(sum(result.sent.values()) / seconds, 1) if seconds else 0.0,
        "by_kind": dict(sorted(result.sent.items())),
        "outcomes": dict(sorted(result.outcomes.items())),
        "pre_boot_refused": result.pre_boot_refused,
        "violations": result.outcomes["violation"],
        "violation_records": result.violations,
        "actor_crashes": crashes,
        "node_alive": alive,
        "memory": memory,
        "canary": canary_report,
    }
