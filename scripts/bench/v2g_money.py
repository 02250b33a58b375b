"""V2G money benchmark: compensation of many sessions (pure) and a payout batch against the fake
wallet, each beside a floor measured in the same run.

    python scripts/bench/v2g_money.py [--sessions 100000] [--payouts 10000]
        [--concurrency 8,32] [--database-url URL] [--json FILE]

1. Compensation (``csms.services.compensation.compensate``, one process, no database):
   ``--sessions`` sessions of 13 export register readings 5 minutes apart, 16:30-17:30 local
   on working days of June 2026 (so each crosses the ponta's start at 17:00 and is cut into 12
   priced pieces), the regulated source at CEMIG with its bandeira and taxes, a margin of 10 %
   + R$ 0.05/kWh. Floor: the bare loop over the same readings (register differences times one
   fixed price, one rounding), i.e. what is left without cutting and pricing each interval;
   the two alternate every 1,000 sessions, so a change of the machine's load weighs on both.
2. Payouts (``csms.actors.payouts.MoneyActor`` on an embedded PostgreSQL, unless
   ``--database-url``): ``--payouts`` compensations with a pending payout each, paid by one
   ``RunPayouts`` (one batch, ``batch_size`` = the count) at each ``--concurrency``, against
   the fake wallet of the tests (``tests/actors/fake_wallet.py``) served by a process of its
   own: payouts per second from the ask to its answer (claiming, HTTP, recording each outcome).
   Floor: the same number of bare ``POST /payouts`` (httpx, the same connection limit and
   concurrency, fresh keys) against the same wallet.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# ``http.py`` beside this file would shadow the standard library's ``http`` (httpx imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import trio  # noqa: E402

from csms.actors import DatabasePool  # noqa: E402
from csms.actors.events import EventBus  # noqa: E402
from csms.actors.payouts import (  # noqa: E402
    MoneyActor,
    MoneyConfig,
    RunPayouts,
    WalletClient,
    ask_money,
)
from csms.runtime import ChildSpec, Strategy, Supervisor  # noqa: E402
from csms.services.compensation import (  # noqa: E402
    Margin,
    RegisterReading,
    compensate,
    parse_compensation_settings,
)
from csms.services.grid_price_settings import parse_grid_price_settings  # noqa: E402
from csms.services.payout import parse_wallet_settings  # noqa: E402
from csms.services.pld import PldTable  # noqa: E402
from csms.services.retail_price import RegulatedSource  # noqa: E402
from csms.storage import (  # noqa: E402
    EmbeddedPostgres,
    connect,
    stations,
    with_database,
)
from csms.storage.cli import migrate_url  # noqa: E402

SP = ZoneInfo("America/Sao_Paulo")
CHUNK = 1000  # sessions per alternation of the floor and compensate
WORKING_DAYS = [d for d in range(1, 31) if dt.date(2026, 6, d).weekday() < 5 and d != 4]


# -- 1. compensation -----------------------------------------------------------------------------


def sessions(n: int) -> list[list[RegisterReading]]:
    found = []
    for i in range(n):
        day = WORKING_DAYS[i % len(WORKING_DAYS)]
        start = dt.datetime(2026, 6, day, 16, 30, tzinfo=SP)
        register = Decimal(1000 + i)
        readings = []
        for k in range(13):
            readings.append(RegisterReading(start + dt.timedelta(minutes=5 * k), register))
            register += Decimal(580 + (i + k) % 7)  # ~7 kW over 5 minutes, in Wh
        found.append(readings)
    return found


def compensation(n: int) -> dict[str, Any]:
    data = sessions(n)
    grid = parse_grid_price_settings({"bandeiras": {"2026-06": "amarela"}})
    market = grid.market(SP, PldTable())
    source, margin = RegulatedSource(), Margin(Decimal(10), Decimal("0.05"))
    price, centavo = Decimal("1.9"), Decimal("0.01")

    # the floor and the real thing alternate chunk by chunk, so a machine whose load changes
    # during the run weighs on both alike
    floor = took = 0.0
    floor_total = net_total = Decimal(0)
    pieces = 0
    for first in range(0, n, CHUNK):
        chunk = data[first : first + CHUNK]
        began = time.perf_counter()
        for readings in chunk:
            gross = Decimal(0)
            for a, b in itertools.pairwise(readings):
                gross += (b.export_register_wh - a.export_register_wh) / 1000 * price
            floor_total += gross.quantize(centavo, rounding=ROUND_HALF_EVEN)
        floor += time.perf_counter() - began
        began = time.perf_counter()
        for readings in chunk:
            result = compensate(readings, market, source, margin)
            net_total += result.net_rs
            pieces += len(result.intervals)
        took += time.perf_counter() - began
    return {
        "sessions": n,
        "pieces_per_session": pieces / n,
        "seconds": round(took, 3),
        "sessions_per_s": round(n / took),
        "us_per_session": round(took / n * 1e6, 1),
        "floor_seconds": round(floor, 3),
        "floor_sessions_per_s": round(n / floor),
        "floor_us_per_session": round(floor / n * 1e6, 1),
        "vs_floor": round(took / floor, 1),
        "net_total_rs": str(net_total),
    }


# -- 2. payouts ----------------------------------------------------------------------------------

_WALLET = """
import sys, trio
sys.path.insert(0, {root!r})
from tests.actors.fake_wallet import running_fake_wallet

async def main():
    async with trio.open_nursery() as nursery:
        async for wallet in running_fake_wallet(nursery):
            print(wallet.base_url, flush=True)
            await trio.sleep_forever()

trio.run(main)
"""


@contextlib.contextmanager
def wallet_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WALLET.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def seed(url: str, n: int) -> None:
    """A station, a user with a wallet, ``n`` ended sessions with a compensation and a pending
    payout each (SQL in bulk: the benchmark is the paying, not the recording)."""
    with connect(url) as conn:
        stations.create(conn, "CP001", password_hash="sha256$salt$" + "a" * 64)
        conn.execute("INSERT INTO users (user_id, name, wallet_id) VALUES ('maria', 'M', 'w-1')")
        conn.execute(
            "INSERT INTO v2g_sessions (id, station_id, evse_id, user_id, state, requested_by,"
            " target_power_w, min_soc_percent, ended_at, end_reason)"
            " SELECT md5('s' || i)::uuid, 'CP001', 1, 'maria', 'completed', 'bench', 7000, 30,"
            " now(), 'soc_floor' FROM generate_series(1, %s) i",
            (n,),
        )
        conn.execute(
            "INSERT INTO v2g_compensations (id, session_id, station_id, user_id, station_group,"
            " price_source, simulated, exported_wh, gross_brl, margin_brl, net_brl,"
            " margin_percent, margin_brl_per_kwh, session_ended_at)"
            " SELECT md5('c' || i)::uuid, md5('s' || i)::uuid, 'CP001', 'maria', 'default',"
            " 'regulated', false, 5000, 8.20, 1.08, 7.12, 10, 0.05, now()"
            " FROM generate_series(1, %s) i",
            (n,),
        )
        conn.execute(
            # not due until a run makes them so (``reset``), after its actor has started
            "INSERT INTO v2g_payouts (compensation_id, user_id, amount_brl, idempotency_key,"
            " next_attempt_at) SELECT id, user_id, net_brl, 'v2g-compensation-' || id,"
            " 'infinity' FROM v2g_compensations"
        )


def reset(url: str, run: int) -> None:
    """Every payout pending again, with keys the wallet has not seen."""
    with connect(url) as conn:
        conn.execute(
            "UPDATE v2g_payouts SET state = 'pending', attempts = 0, paid_at = NULL,"
            " sent_at = NULL, next_attempt_at = now() - interval '1 s',"
            " idempotency_key = 'v2g-compensation-' || compensation_id || '-' || %s",
            (str(run),),
        )


async def actor_run(url: str, wallet_url: str, n: int, concurrency: int) -> dict[str, Any]:
    config = MoneyConfig(
        grid=parse_grid_price_settings({}),
        tz=SP,
        compensation=parse_compensation_settings({"sweep_interval_s": 3600}),
        wallet=parse_wallet_settings(
            {"url": wallet_url, "concurrency": concurrency, "batch_size": n, "interval_s": 0}
        ),
    )
    pool = DatabasePool(url, size=4)
    try:
        async with trio.open_nursery() as nursery:

            def make() -> MoneyActor:
                return MoneyActor(
                    database=pool,
                    events=EventBus("bench"),
                    config=config,
                    wallet=lambda: WalletClient(wallet_url, timeout=30, connections=concurrency),
                )

            # the payouts become due only after the actor's own first run (at its start)
            root = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("v2g_money", make)])
            await nursery.start(root.run)
            await ask_money(root, RunPayouts(), timeout=None)  # nothing due: a warm-up
            await trio.to_thread.run_sync(reset, url, concurrency)
            began = time.perf_counter()
            run = await ask_money(root, RunPayouts(), timeout=None)
            took = time.perf_counter() - began
            nursery.cancel_scope.cancel()
    finally:
        pool.close()
    return {
        "concurrency": concurrency,
        "paid": run.paid,
        "claimed": run.claimed,
        "seconds": round(took, 3),
        "payouts_per_s": round(run.paid / took),
    }


async def http_floor(wallet_url: str, n: int, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    limiter = trio.CapacityLimiter(concurrency)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=wallet_url, limits=limits, timeout=30) as http:

        async def one(i: int) -> None:
            async with limiter:
                body = {"walletId": "w-1", "amount": "7.12", "paymentId": str(i)}
                r = await http.post(
                    "/payouts", json=body, headers={"Idempotency-Key": f"floor-{run}-{i}"}
                )
                r.raise_for_status()

        await one(-1)  # connection warm-up
        began = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
        took = time.perf_counter() - began
    return {"concurrency": concurrency, "seconds": round(took, 3), "posts_per_s": round(n / took)}


def payouts(url: str, n: int, levels: list[int]) -> dict[str, Any]:
    seed(url, n)
    results: dict[str, Any] = {"payouts": n, "runs": [], "floor": []}
    with wallet_process() as wallet_url:
        for c in levels:
            results["runs"].append(trio.run(actor_run, url, wallet_url, n, c))
            results["floor"].append(trio.run(http_floor, wallet_url, n, c))
    return results


# -- the report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine()}
    report["compensation"] = c = compensation(args.sessions)
    print(
        f"compensation: {c['sessions']:,} sessions ({c['pieces_per_session']:.0f} priced pieces"
        f" each) in {c['seconds']} s = {c['sessions_per_s']:,}/s ({c['us_per_session']} us);"
        f" floor (bare loop) {c['floor_sessions_per_s']:,}/s ({c['floor_us_per_session']} us),"
        f" {c['vs_floor']}x the floor"
    )
    levels = [int(x) for x in args.concurrency.split(",")]
    with contextlib.ExitStack() as stack:
        admin = args.database_url
        if not admin:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="csms-bench-"))
            admin = stack.enter_context(EmbeddedPostgres(tmp)).url
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(admin, name)
        migrate_url(url)
        report["payouts"] = p = payouts(url, args.payouts, levels)
    for run, floor in zip(p["runs"], p["floor"], strict=True):
        print(
            f"payouts: {run['paid']:,} paid at concurrency {run['concurrency']} in"
            f" {run['seconds']} s = {run['payouts_per_s']:,}/s;"
            f" floor (bare POSTs) {floor['posts_per_s']:,}/s"
        )
    print(json.dumps(report["machine"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
