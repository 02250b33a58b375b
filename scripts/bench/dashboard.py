"""Dashboard benchmark: page render times and SSE fan-out on a loaded node, and what the open
dashboards cost the stations, measured beside the same load without dashboards, in one run.

    python scripts/bench/dashboard.py [--stations 10000] [--tx-stations 200] [--seconds 20]
                                      [--dashboards 50] [--rounds 2] [--loaders 1] [--no-pin]

One node (``csms serve``, pinned to CPU 0 unless ``--no-pin``, embedded PostgreSQL) with
``--stations`` stations connected and idle (``stations_load.py`` in ``idle`` mode: booted, a
Heartbeat now and then). First the operator's clicks (below) alone for ``--seconds``: the pages'
own cost on a node holding the stations. Then ``--rounds`` rounds of two phases of ``--seconds``
each, alternating:

* **none**: ``--tx-stations`` further stations run the ordinary transaction flow
  (``stations_load.transaction_flow``, one CALL outstanding per station), no dashboard open;
* **dashboards**: the same load, with ``--dashboards`` signed-in dashboards open (a separate
  process, pinned beside the load generators): each does what the browser's overview does: it
  holds the overview's SSE stream (``/events?figures=1``), whose messages carry the overview's
  figures (read from each message, as the page writes them into itself), fetches the overview's
  live part (its security events, an htmx GET of ``/``) once when the stream opens and again
  when a batch names its topic (``security``, or ``*``: everything), at most once a second.
  One more client plays the operator clicking: full pages of the overview and of the station
  list (``/stations``, the first page of all the stations, then filtered by status) back to
  back, each timed.

Every phase takes stations of its own (a fresh id range), so no phase meets the previous one's
closing sockets. Reported per phase: the stations' messages/s and p99, the node's and
PostgreSQL's CPU; for the dashboards phase also SSE batches delivered per second (all dashboards),
those carrying figures, live-part fetches per second, and the page render times (p50/p95/max,
client-side, over loopback). The best round of each phase counts for messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

ADMIN_TOKEN = "bench-dashboard-admin-token-0123456789"
#: The topics of the overview's live part (its figures come in the messages themselves).
OVERVIEW_TOPICS = {"security", "*"}


def _stations_module() -> Any:
    """``stations.py`` beside this file (imported by path: its directory is off sys.path)."""
    spec = importlib.util.spec_from_file_location("bench_stations", HERE / "stations.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


st = _stations_module()


# --- the dashboards (own process) ----------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


async def _signed_in(base: str) -> Any:
    import httpx

    client = httpx.AsyncClient(base_url=base, timeout=60)
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text[:200]
    answer = await client.post("/login", data={"csrf": csrf.group(1), "token": ADMIN_TOKEN})
    assert answer.status_code == 303, answer.text[:200]
    return client


async def _dashboard(base: str, ready: asyncio.Event, stop: asyncio.Event, out: dict[str, int]):
    client = await _signed_in(base)
    dirty = asyncio.Event()

    async def refetch() -> None:
        # the page's rule: a part is fetched again at most once a second
        while not stop.is_set():
            await dirty.wait()
            dirty.clear()
            started = time.perf_counter()
            answer = await client.get("/", headers={"HX-Request": "true"})
            answer.raise_for_status()
            out["fetches"] += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))

    fetcher = asyncio.create_task(refetch())
    try:
        async with client.stream("GET", "/events?figures=1") as stream:
            ready.set()
            dirty.set()  # the page's first fetch of its live part, when the stream opens
            async for line in stream.aiter_lines():
                if stop.is_set():
                    break
                if line.startswith("data: "):
                    out["batches"] += 1
                    batch = json.loads(line[6:])
                    if "figures" in batch:
                        out["figures"] += 1
                    if OVERVIEW_TOPICS & set(batch["topics"]):
                        dirty.set()
    finally:
        fetcher.cancel()
        await client.aclose()


async def _operator(base: str, stop: asyncio.Event, times: dict[str, list[float]]) -> None:
    client = await _signed_in(base)
    pages = {"overview": "/", "stations": "/stations", "stations?status": "/stations?status=online"}
    try:
        while not stop.is_set():
            for name, path in pages.items():
                started = time.perf_counter()
                answer = await client.get(path)
                answer.raise_for_status()
                times[name].append(time.perf_counter() - started)
    finally:
        await client.aclose()


async def run_dashboards(base: str, count: int) -> None:
    stop = asyncio.Event()
    counts = {"batches": 0, "figures": 0, "fetches": 0}
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_dashboard(base, r, stop, counts)) for r in readies]
    for r in readies:
        await r.wait()
    print(json.dumps({"ready": count}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    counts.update(batches=0, figures=0, fetches=0)
    times: dict[str, list[float]] = {"overview": [], "stations": [], "stations?status": []}
    started, cpu = time.perf_counter(), time.process_time()
    operator = asyncio.create_task(_operator(base, stop, times))
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    elapsed = time.perf_counter() - started
    result = {k: v / elapsed for k, v in counts.items()}
    stop.set()
    for task in [operator, *tasks]:
        task.cancel()
    await asyncio.gather(operator, *tasks, return_exceptions=True)
    result["cpu_cores"] = (time.process_time() - cpu) / elapsed
    result["pages_ms"] = {
        name: {
            "n": len(v),
            "p50": 1000 * _pct(v, 0.5),
            "p95": 1000 * _pct(v, 0.95),
            "max": 1000 * max(v, default=float("nan")),
        }
        for name, v in times.items()
    }
    print(json.dumps(result), flush=True)


# --- the orchestra -------------------------------------------------------------------------------


def _spawn(cmd: list[str], cpu: int | None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=st._preexec(cpu)
    )


def _loaders(args: argparse.Namespace, port: int, first: int, count: int, mode: str, secs: float):
    cpu = None if args.no_pin else st.LOADER_CPU
    procs = []
    for k in range(args.loaders):
        lo, hi = count * k // args.loaders, count * (k + 1) // args.loaders
        cmd = [sys.executable, str(HERE / "stations_load.py"), str(port), str(first + lo)]
        procs.append(_spawn([*cmd, str(hi - lo), mode, str(secs), f"127.0.0.{2 + k}"], cpu))
    for p in procs:
        st.Loaders.read(p)  # connected and booted
    return procs


def _tell(procs: list[subprocess.Popen[str]], word: str) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(word + "\n")
        p.stdin.flush()


def phase(args: argparse.Namespace, node: Any, http: int, first: int, kind: str, pg_dir: str):
    tx = _loaders(args, node.port, first, args.tx_stations, "transactions", args.seconds)
    dash = None
    if kind == "dashboards":
        cmd = [sys.executable, __file__, "--role", "dashboards", f"http://127.0.0.1:{http}"]
        dash = _spawn([*cmd, str(args.dashboards)], None if args.no_pin else st.LOADER_CPU)
        st.Loaders.read(dash)
        _tell([dash], "go")
    cpu, pg = node.cpu(), st.postgres_cpu(pg_dir)
    _tell(tx, "go")
    results = [st.Loaders.read(p) for p in tx]
    cpu, pg = node.cpu() - cpu, st.postgres_cpu(pg_dir) - pg
    for p in tx:
        p.wait(timeout=60)
    latencies = sorted(x for r in results for x in r["latencies_us"])
    elapsed = max(r["elapsed"] for r in results)
    out: dict[str, Any] = {
        "msg_per_s": len(latencies) / elapsed,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1000,
        "node_cores": cpu / elapsed,
        # comparable between phases even when the machine starves the node of CPU
        "node_cpu_us_per_msg": 1e6 * cpu / len(latencies),
        "postgres_cores": pg / elapsed,
        "errors": sum(r["errors"] for r in results),
    }
    if dash is not None:
        _tell([dash], "stop")
        out["dashboards"] = st.Loaders.read(dash)
        dash.wait(timeout=60)
    return out


def pages_alone(args: argparse.Namespace, node: Any, http: int) -> dict[str, Any]:
    """The operator's page renders with the stations connected and nothing else running."""
    cmd = [sys.executable, __file__, "--role", "dashboards", f"http://127.0.0.1:{http}", "0"]
    operator = _spawn(cmd, None if args.no_pin else st.LOADER_CPU)
    st.Loaders.read(operator)
    cpu = node.cpu()
    _tell([operator], "go")
    time.sleep(args.seconds)  # the operator clicks for this long
    _tell([operator], "stop")
    out = st.Loaders.read(operator)
    operator.wait(timeout=60)
    out["node_cores"] = (node.cpu() - cpu) / args.seconds
    return out


def orchestrate(args: argparse.Namespace) -> None:
    phases = 2 * args.rounds
    registered = args.stations + phases * args.tx_stations
    print(
        f"machine: nproc={os.cpu_count()} cpu={st._cpu_model()!r} load average "
        f"{os.getloadavg()[0]:.2f} at start; pinning: "
        f"{'off' if args.no_pin else 'node CPU 0, load generators and dashboards CPU 1'}",
        flush=True,
    )
    os.environ["CSMS_ADMIN_TOKEN"] = ADMIN_TOKEN  # the node started below reads it
    report: dict[str, Any] = {"args": vars(args), "none": None, "dashboards": None}
    with tempfile.TemporaryDirectory(prefix="csms-bench-dashboard-") as tmp:
        db_args = argparse.Namespace(idle=registered, stations=0)
        pg, url = st.setup_database(db_args, tmp)
        node_args = argparse.Namespace(idle=registered, no_pin=args.no_pin)
        ports = [st.free_port(), st.free_port()]
        # stations.Server picks its OCPP port, then its HTTP port, with free_port(): hand it ours
        # so that the HTTP port (not kept by Server) is known here
        st.free_port = iter(ports).__next__
        node = st.Server("csms", node_args, url, "dashboard")
        http = ports[1]
        idle: list[subprocess.Popen[str]] = []
        try:
            started = time.perf_counter()
            idle_first = phases * args.tx_stations
            idle = _loaders(args, node.port, idle_first, args.stations, "idle", 3600.0)
            _tell(idle, "go")
            print(
                f"{args.stations:,} idle stations connected in "
                f"{time.perf_counter() - started:.1f} s; node RSS {node.rss() / 2**20:.0f} MB",
                flush=True,
            )
            report["pages_alone"] = alone = pages_alone(args, node, http)
            print(f"  pages alone: {json.dumps(alone)}", flush=True)
            for i in range(phases):
                kind = ("none", "dashboards")[i % 2]
                r = phase(args, node, http, i * args.tx_stations, kind, tmp)
                best = report[kind]
                if best is None or r["msg_per_s"] > best["msg_per_s"]:
                    report[kind] = r
                print(f"  round {i // 2 + 1} {kind}: {json.dumps(r)}", flush=True)
        finally:
            _tell(idle, "quit")
            for p in idle:
                p.wait(timeout=60)
            node.stop()
            pg.stop()
    none, dash = report["none"], report["dashboards"]
    for kind in ("none", "dashboards"):
        r = report[kind]
        print(
            f"{kind:<10} {r['msg_per_s']:8,.0f} msg/s  p99 {r['p99_ms']:6.1f} ms  node "
            f"{r['node_cores']:.2f} cores ({r['node_cpu_us_per_msg']:.0f} us/msg)  "
            f"PostgreSQL {r['postgres_cores']:.2f} cores  "
            f"errors {r['errors']}",
            flush=True,
        )
    d = dash["dashboards"]
    print(
        f"{args.dashboards} dashboards: {d['batches']:,.1f} SSE batches/s delivered "
        f"({d['figures']:,.1f}/s with figures), "
        f"{d['fetches']:,.1f} live-part fetches/s; node CPU +"
        f"{dash['node_cores'] - none['node_cores']:.2f} cores; stations' msg/s "
        f"{100 * (dash['msg_per_s'] / none['msg_per_s'] - 1):+.1f}%, p99 "
        f"{100 * (dash['p99_ms'] / none['p99_ms'] - 1):+.1f}%",
        flush=True,
    )
    for name, t in [
        *((f"{n} alone", t) for n, t in report["pages_alone"]["pages_ms"].items()),
        *((f"{n} loaded", t) for n, t in d["pages_ms"].items()),
    ]:
        print(
            f"  page {name:<22} n={t['n']:<5} p50 {t['p50']:6.1f} ms  p95 {t['p95']:6.1f} ms"
            f"  max {t['max']:6.1f} ms",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--role", default="main")
    parser.add_argument("--stations", type=int, default=10_000, help="connected, idle")
    parser.add_argument("--tx-stations", type=int, default=200, help="running transactions")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--dashboards", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--loaders", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--json")
    args, rest = parser.parse_known_args()
    if args.role == "dashboards":
        asyncio.run(run_dashboards(rest[0], int(rest[1])))
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
