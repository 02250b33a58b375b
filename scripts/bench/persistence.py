"""Benchmark: meter-value rows/s through the persistence actor, beside a plain COPY loop (the
floor), and the commit latency a writer sees at several offered rates.

    python scripts/bench/persistence.py [--rows 400000] [--database-url URL] [--json]

Without --database-url it starts an embedded PostgreSQL in a temporary directory. Every phase
writes into a fresh, migrated database so phases do not slow each other down.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from csms.actors.persistence import (
    PersistenceSettings,
    persistence_spec,
    store,
    submit,
)
from csms.domain.records import MeterValueRow
from csms.runtime import Strategy, Supervisor
from csms.storage import EmbeddedPostgres, connect, with_database
from csms.storage import _sql as sql
from csms.storage.cli import migrate_url

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def rows(n: int, station: str = "CP001") -> list[MeterValueRow]:
    return [
        MeterValueRow(
            f"{station}-{i % 500}",
            T0 + dt.timedelta(seconds=i),
            "Energy.Active.Import.Register",
            1000 + i,
            evse_id=1,
            transaction_id=f"tx-{i % 500}",
            context="Sample.Periodic",
            unit="Wh",
        )
        for i in range(n)
    ]


def fresh_database(admin_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    migrate_url(url)
    return url


def copy_floor(url: str, records: list[MeterValueRow], batch: int) -> float:
    """Plain psycopg: binary COPY of prebuilt tuples, one commit per batch."""
    tuples = [
        (
            r.station_id,
            r.timestamp,
            r.evse_id,
            r.transaction_id,
            r.measurand,
            r.phase,
            r.location,
            r.context,
            r.unit,
            r.value,
        )
        for r in records
    ]
    with connect(url) as conn:
        start = time.perf_counter()
        for i in range(0, len(tuples), batch):
            with conn.cursor() as cur, cur.copy(sql.COPY_METER_VALUES) as copy:
                copy.set_types(sql.METER_VALUE_TYPES)
                for t in tuples[i : i + batch]:
                    copy.write_row(t)
            conn.commit()
        return len(tuples) / (time.perf_counter() - start)


async def through_actor(
    url: str, records: list[MeterValueRow], *, group: int, writers: int, acked: bool
) -> float:
    """Rows/s from the first hand-over to the commit of the last row."""
    settings = PersistenceSettings(url)
    spec, status = persistence_spec(settings, mailbox_size=1000)
    sup = Supervisor(Strategy.ONE_FOR_ONE, [spec], name="bench")
    groups = [tuple(records[i : i + group]) for i in range(0, len(records), group)]
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        start = trio.current_time()

        async def writer(mine: list[tuple[MeterValueRow, ...]]) -> None:
            for g in mine:
                if acked:
                    await store(ref, *g)
                else:
                    await submit(ref, *g)

        async with trio.open_nursery() as ws:
            for w in range(writers):
                ws.start_soon(writer, groups[w::writers])
        await store(ref)  # an empty write commits after everything handed over before it
        elapsed = trio.current_time() - start
        assert status.committed_records == len(records), status
        await sup.stop()
    return len(records) / elapsed


async def latency(url: str, rate: int, *, seconds: float, group: int = 10) -> dict[str, float]:
    """Offer ``rate`` rows/s as writes of ``group`` rows; latency from hand-over to commit."""
    spec, status = persistence_spec(PersistenceSettings(url), mailbox_size=10_000)
    sup = Supervisor(Strategy.ONE_FOR_ONE, [spec], name="bench")
    writes = int(rate * seconds / group)
    records = rows((writes + 1) * group)
    samples: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        await status.wait_ready()  # connected: the first samples do not pay for the connection
        await store(ref, *records[:group])  # and the statements are prepared

        async def one(g: tuple[MeterValueRow, ...]) -> None:
            t = trio.current_time()
            await store(ref, *g)
            samples.append(trio.current_time() - t)

        interval = group / rate
        start = trio.current_time()
        async with trio.open_nursery() as ws:
            for i in range(writes):
                await trio.sleep_until(start + i * interval)
                ws.start_soon(one, tuple(records[(i + 1) * group : (i + 2) * group]))
        await sup.stop()
    samples.sort()
    return {
        "offered_rows_per_s": rate,
        "writes": len(samples),
        "p50_ms": 1000 * samples[len(samples) // 2],
        "p99_ms": 1000 * samples[math.ceil(len(samples) * 0.99) - 1],
        "max_ms": 1000 * samples[-1],
        "mean_ms": 1000 * statistics.fmean(samples),
    }


def machine(url: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = str(row[0]) if row else "?"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "postgresql": pg,
    }


async def main_async(admin_url: str, n: int) -> dict[str, object]:
    records = rows(n)
    floor = await trio.to_thread.run_sync(copy_floor, fresh_database(admin_url), records, 5000)
    results: dict[str, object] = {"machine": machine(admin_url), "rows": n}
    results["copy_floor_rows_per_s"] = round(floor)
    results["actor_submit_rows_per_s"] = round(
        await through_actor(fresh_database(admin_url), records, group=20, writers=16, acked=False)
    )
    results["actor_store_rows_per_s"] = round(
        await through_actor(fresh_database(admin_url), records, group=20, writers=2000, acked=True)
    )
    results["latency"] = [
        await latency(fresh_database(admin_url), rate, seconds=4.0)
        for rate in (1_000, 10_000, 50_000)
    ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in seconds (how long a thread may hold the GIL)",
    )
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    with ExitStack() as stack:
        url = args.database_url
        if not url:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="csms-bench-"))
            url = stack.enter_context(EmbeddedPostgres(tmp)).url
        results = trio.run(main_async, url, args.rows)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    m = results["machine"]
    assert isinstance(m, dict)
    print(f"machine: {m['nproc']} x {m['cpu']}, Python {m['python']}, PostgreSQL {m['postgresql']}")
    floor = results["copy_floor_rows_per_s"]
    assert isinstance(floor, int)
    for key in ("copy_floor_rows_per_s", "actor_submit_rows_per_s", "actor_store_rows_per_s"):
        value = results[key]
        assert isinstance(value, int)
        print(f"{key:28} {value:>10,}  ({value / floor:.2f} x floor)")
    latencies = results["latency"]
    assert isinstance(latencies, list)
    for lat in latencies:
        print(
            f"offered {lat['offered_rows_per_s']:>6,} rows/s: p50 {lat['p50_ms']:.2f} ms"
            f"  p99 {lat['p99_ms']:.2f} ms  max {lat['max_ms']:.2f} ms ({lat['writes']} writes)"
        )


if __name__ == "__main__":
    main()
