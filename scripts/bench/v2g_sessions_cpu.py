"""The discharge sessions' own CPU per meter reading, without the stations' side.

    python scripts/bench/v2g_sessions_cpu.py [--sessions 1000] [--seconds 30] [--burst 1]
                                             [--json FILE]

One process: an embedded PostgreSQL (set up here, its CPU not counted), ``--sessions`` session
rows as a node leaves them (discharging, their transactions active), and the ``v2g_sessions``
actor with real parts (the database pool, the event bus, a gateway with no station connected)
resuming them. Then every session is handed a TransactionEvent reading (SoC, export register,
export power) every 10 s, spread evenly, as the routes hand them over (``StationMessage``),
for ``--seconds``; each is answered by a ``v2g.session.updated`` ([v2g] update_interval_s 5).
Counted: the process's CPU time (every thread: the trio thread, the database calls' worker
threads) over the window, per reading (the sessions' clocks included: before the one ticker,
a tick a second each). The station's handling of the same TransactionEvent (validation,
storage, answer) is not in it: that is ``stations.py``'s (c).

It needs only names that predate the one ticker, so the same script measures a tree before it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import trio  # noqa: E402

from csms.actors.database import DatabasePool  # noqa: E402
from csms.actors.events import EventBus  # noqa: E402
from csms.actors.gateway import LocalStationGateway  # noqa: E402
from csms.actors.station import StationMessage  # noqa: E402
from csms.actors.v2g import V2G_SESSIONS, SessionOptions, V2GSessions, session_policy  # noqa: E402
from csms.actors.v2g._session import SessionDeps  # noqa: E402
from csms.protocol import Version  # noqa: E402
from csms.runtime import ChildSpec, DynamicSupervisor, Strategy, Supervisor  # noqa: E402
from csms.services.v2g_preferences import V2GPreferences  # noqa: E402
from csms.services.v2g_session import ProfileAnswer, StartRequest, state_to_json  # noqa: E402
from csms.services.v2x_capability import EVCapability, StationV2XSupport  # noqa: E402
from csms.storage import EmbeddedPostgres, connect, stations, with_database  # noqa: E402
from csms.storage import v2g_sessions as repo  # noqa: E402
from csms.storage.cli import migrate_url  # noqa: E402

INTERVAL = 10.0
EV = EVCapability(
    evse_id=1,
    requested_mode="DC_BPT",
    available_modes=("DC", "DC_BPT"),
    source="v2x_parameters",
    max_charge_w=Decimal(11000),
    max_discharge_w=Decimal(11000),
    battery_capacity_wh=Decimal(60000),
    state_of_charge=Decimal(80),
    target_soc=80,
)
PREFS = V2GPreferences(
    user_id="u", opt_in=True, min_soc_percent=Decimal(30), max_discharge_w=Decimal(11000)
)
STATION = StationV2XSupport(
    enabled=True, operation_modes=frozenset({"ChargingOnly", "CentralSetpoint"})
)


def setup(url: str, count: int, policy: Any, now: dt.datetime) -> list[Any]:
    states = []
    with connect(url) as conn:
        for i in range(count):
            station_id = f"V2G{i:06d}"
            decision = policy.start(
                StartRequest(
                    session_id=str(uuid.uuid4()),
                    station_id=station_id,
                    evse_id=1,
                    transaction_id=f"tx-{i}",
                    user_id="u",
                    version=Version.V21,
                    station=STATION,
                    capability=EV,
                    preferences=PREFS,
                    power_w=Decimal(7000),
                    now=now,
                )
            )
            state, _ = policy.step(decision.state, ProfileAnswer(now, accepted=True))
            stations.create(conn, station_id)
            conn.execute(
                "INSERT INTO transactions (station_id, transaction_id, state, evse_id,"
                " started_at, last_seq_no) VALUES (%s, %s, 'Active', 1, %s, 0)",
                (station_id, state.transaction_id, now),
            )
            repo.create(
                conn,
                repo.NewSession(
                    id=uuid.UUID(state.session_id),
                    station_id=station_id,
                    evse_id=1,
                    requested_by="bench",
                    target_power_w=state.requested_w,
                    min_soc_percent=state.min_soc_percent,
                    ocpp_version="ocpp2.1",
                    state=state.state,
                    transaction_id=state.transaction_id,
                    setpoint_w=state.setpoint_w,
                    policy_state=state_to_json(state),
                ),
            )
            states.append(state)
        conn.commit()
    return states


def thread_cpu() -> dict[str, float]:
    """CPU seconds by thread name (``/proc/self/task``): the trio thread, the worker threads."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        key = "trio thread" if name.startswith("python") else "worker threads"
        out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def reading(state: Any, n: int) -> StationMessage:
    at = dt.datetime.now(dt.UTC).isoformat()
    raw = {
        "eventType": "Updated",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": n,
        "timestamp": at,
        "transactionInfo": {"transactionId": state.transaction_id},
        "meterValue": [
            {
                "timestamp": at,
                "sampledValue": [
                    {
                        "value": 80 - n * 0.01,
                        "measurand": "SoC",
                        "unitOfMeasure": {"unit": "Percent"},
                    },
                    {"value": 1000 + 19.4 * n, "measurand": "Energy.Active.Export.Register"},
                    {"value": 7000, "measurand": "Power.Active.Export"},
                ],
            }
        ],
    }
    return StationMessage(
        state.station_id, "ocpp2.1", "TransactionEvent", None, raw, dt.datetime.now(dt.UTC)
    )


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from csms.config import load_settings

    settings = load_settings(overrides={"http.port": 0})
    parts = SimpleNamespace(settings=settings)
    policy = session_policy(parts)  # type: ignore[arg-type]
    states = setup(url, args.sessions, policy, dt.datetime.now(dt.UTC))
    database = DatabasePool(url, size=4)
    events = EventBus("bench")
    gateway = LocalStationGateway(DynamicSupervisor(name="stations"))
    options = SessionOptions(tick_interval=settings.v2g.tick_interval_s)
    deps = SessionDeps(
        gateway=gateway, database=database, events=events, options=options, policy=policy
    )
    node = SimpleNamespace(events=events, database=database, gateway=gateway)
    feed = events.subscribe("v2g.session.updated", capacity=1_000_000)
    spec = ChildSpec.actor(V2G_SESSIONS, lambda: V2GSessions(node, deps), kind="v2g")  # type: ignore[arg-type]
    root = Supervisor(Strategy.ONE_FOR_ONE, [spec], name="bench")
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        sessions = root.ref(V2G_SESSIONS)
        await trio.sleep(3)  # resumed
        step = INTERVAL / len(states)
        n = 0
        answered = 0
        rounds = int(INTERVAL + args.seconds) // int(INTERVAL)
        cpu = wall = 0.0
        for r in range(rounds):
            if r == 1:  # the first round makes every session's first save: not counted
                while feed.receive.statistics().current_buffer_used:
                    feed.receive.receive_nowait()
                cpu, wall, answered = time.process_time(), time.perf_counter(), 0
                threads = thread_cpu()
            begin = trio.current_time()
            for k, state in enumerate(states):
                # --burst: the readings of a busy node, which come in faster than it takes them
                await trio.sleep_until(begin + (k - k % args.burst) * step)
                sessions.tell_nowait(reading(state, r + 1))
                n += 1
        await trio.sleep_until(begin + INTERVAL)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        threads = {k: v - threads.get(k, 0.0) for k, v in thread_cpu().items()}
        while feed.receive.statistics().current_buffer_used:
            feed.receive.receive_nowait()
            answered += 1
        counted = (rounds - 1) * len(states)
        await root.stop()
        nursery.cancel_scope.cancel()
    database.close()
    return {
        "sessions": len(states),
        "readings_counted": counted,
        "updates_seen": answered,
        "seconds": wall,
        "cores": cpu / wall,
        "us_per_reading": 1e6 * cpu / counted,
        "us_per_reading_by_thread": {k: 1e6 * v / counted for k, v in threads.items()},
        "burst": args.burst,
        "record_batches": getattr(getattr(deps, "writer", None), "batches", None),
        "records_batched": getattr(getattr(deps, "writer", None), "written", None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=1, help="readings handed over at once")
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="csms-bench-v2g-cpu-") as tmp:
        server = EmbeddedPostgres(tmp)
        admin = server.start()
        try:
            with connect(admin, autocommit=True) as conn:
                conn.execute("CREATE DATABASE csms_bench_v2g")
            url = with_database(admin, "csms_bench_v2g")
            migrate_url(url)
            report = trio.run(measure, url, args)
        finally:
            server.stop()
    print(json.dumps(report), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
