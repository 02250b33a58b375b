"""Control API benchmark: command round trips through REST, beside a bare hypercorn floor.

    python scripts/bench/http.py [--stations 500] [--seconds 10] [--connections 32] [--loaders 2]
                                 [--compression deflate|none] [--no-pin]

Two servers are measured in one run, each in its own process, with the same load generator:

* **floor**: a bare ASGI app served by hypercorn on trio that answers a constant JSON body;
* **csms**: a whole node (embedded PostgreSQL unless ``DATABASE_URL`` is set, the OCPP listener
  and the control API) with ``--stations`` simulated stations connected over WebSocket (a
  separate process, asyncio + websockets, answering every CALL at once). Each request is
  ``POST /api/v1/devices/{id}/reset``: auth, body parsing, the station actor, the OCPP
  round trip over the socket, the command audit (one write for a command answered within
  ``audit_sent_after``, 0.5 s) and the HTTP reply.

The simulated stations offer permessage-deflate, as the websockets client does by default and as
Part 4 recommends for stations on mobile data; the node accepts it (its default settings, no
context takeover). ``--compression none`` measures a fleet that does not offer it (stations on
Ethernet or Wi-Fi often do not).

The load generator is ``--loaders`` processes, each holding ``--connections`` keep-alive HTTP/1.1
connections with one request outstanding each (raw asyncio sockets, so the client costs little).
Reported: requests per second, client-side p50/p99 latency, csms / floor, and the CPU time each
process used per request while the load ran (Linux ``/proc``: the node's trio thread and its
worker threads apart, PostgreSQL with all its backends, the station simulator, the loaders).
The sum is what a request costs the machine.

Placement (``--pin``, the default on Linux with two or more CPUs): the server under test, the
floor or the node (all its threads), runs alone on CPU 0; everything else (load generators,
station simulator, the embedded PostgreSQL) shares the other CPUs. Both servers get the same
treatment, and the node no longer has the simulated stations (remote devices in real life) and
the load generators scheduled onto its core, which the floor, with fewer neighbours, suffered
less from. ``--no-pin`` lets every process share every core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

# Run as a script, this file's directory comes first on sys.path and its name would shadow the
# standard library's ``http`` package (which hypercorn imports, later, inside the functions).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
PASSWORD = "Bench-password-0123456789"
FLOOR_BODY = b'{"status":"Accepted"}'
KEEP_ALIVE_MAX_REQUESTS = 1_000_000


# --- the floor: a bare ASGI app on hypercorn/trio (own process) ----------------------------------


def run_floor() -> None:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = (await receive())["type"]
                await send({"type": event + ".complete"})
                if event == "lifespan.shutdown":
                    return
        while (await receive()).get("more_body"):
            pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(FLOOR_BODY)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": FLOOR_BODY})

    async def main() -> None:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.backlog = 1024
        config.keep_alive_max_requests = KEEP_ALIVE_MAX_REQUESTS  # as the control API has it
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve, app, config)
            port = int(binds[0].rpartition(":")[2])
            print(f"READY {port}", flush=True)
            await trio.to_thread.run_sync(sys.stdin.read)
            nursery.cancel_scope.cancel()

    trio.run(main)


# --- the node (own process) ----------------------------------------------------------------------


def run_node(database_url: str, stations: int) -> None:
    import trio

    from csms.config import load_settings
    from csms.node import open_node, tune_garbage_collector
    from csms.storage import connect
    from csms.transport import hash_password

    os.environ["CSMS_ADMIN_TOKEN"] = ADMIN_TOKEN
    settings = load_settings(
        env={},
        overrides={
            "database.url": database_url,
            "ocpp.host": "127.0.0.1",
            "ocpp.port": 0,
            "http.host": "127.0.0.1",
            "http.port": 0,
        },
    )
    with connect(database_url) as conn:
        hashed = hash_password(PASSWORD)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO stations (id, password_hash, registration_status)"
                " VALUES (%s, %s, 'Accepted') ON CONFLICT DO NOTHING",
                [(station_id(i), hashed) for i in range(stations)],
            )
        conn.commit()

    async def main() -> None:
        async with open_node(settings, http=True) as node:
            tune_garbage_collector()  # as `csms serve` does
            print(f"READY {node.http_addresses[0][1]} {node.ocpp_port}", flush=True)
            await trio.to_thread.run_sync(sys.stdin.read)

    trio.run(main)


def station_id(i: int) -> str:
    return f"BENCH{i:05d}"


# --- simulated stations (own process) ------------------------------------------------------------


def run_stations(port: int, first: int, count: int, compression: str) -> None:
    from websockets.asyncio.client import connect

    boot = json.dumps(
        [
            2,
            "boot",
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "Bench", "vendorName": "csms"}},
        ]
    )

    async def station(i: int, ready: asyncio.Queue[int]) -> None:
        sid = station_id(i)
        token = base64.b64encode(f"{sid}:{PASSWORD}".encode()).decode()
        async with connect(
            f"ws://127.0.0.1:{port}/ocpp/{sid}",
            subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=120,
            ping_interval=None,
            compression="deflate" if compression == "deflate" else None,
        ) as ws:
            await ws.send(boot)
            await ws.recv()
            await ready.put(i)
            async for text in ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))

    async def all_ready(ready: asyncio.Queue[int]) -> None:
        for _ in range(count):
            await ready.get()

    async def main() -> None:
        ready: asyncio.Queue[int] = asyncio.Queue()
        tasks = []
        for i in range(first, first + count):
            tasks.append(asyncio.create_task(station(i, ready)))
            if len(tasks) % 50 == 0:  # connect in waves: a storm is another benchmark
                await asyncio.sleep(0.05)
        waiting = asyncio.create_task(all_ready(ready))
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():  # a station ended before all were up: say why, do not hang
            failed = next(t for t in tasks if t.done())
            print(f"FAILED {failed.exception()!r}", flush=True)
            return
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for t in tasks:
            t.cancel()

    asyncio.run(main())


# --- load generator (own processes) --------------------------------------------------------------


def run_loader(port: int, seconds: float, connections: int, stations: int, offset: int) -> None:
    async def connection(n: int, stop_at: float, latencies: list[float]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"{}"
        i = n
        while time.perf_counter() < stop_at:
            if stations:
                path = f"/api/v1/devices/{station_id((offset + i) % stations)}/reset"
                i += connections
            else:
                path = "/"
            request = (
                f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"HTTP {status} for {path}")
            latencies.append(time.perf_counter() - started)
        writer.close()

    async def main() -> None:
        latencies: list[float] = []
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started = time.perf_counter()
        cpu = time.process_time()
        stop_at = started + seconds
        await asyncio.gather(*(connection(n, stop_at, latencies) for n in range(connections)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        print(
            json.dumps(
                {"n": len(latencies), "elapsed": elapsed, "cpu": cpu, "latencies": latencies}
            )
        )

    asyncio.run(main())


# --- orchestration -------------------------------------------------------------------------------


SERVER_CPUS = {0}


def pin_cpus(args: argparse.Namespace) -> bool:
    return bool(args.pin) and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise RuntimeError(f"child did not start: {line!r}")
    return line.split()[1:]


def stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- CPU accounting (Linux /proc) ----------------------------------------------------------------

#: A named CPU meter: seconds of CPU used so far by one process, thread or group of processes.
CpuMeter = Callable[[], float]
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_cpu(path: str) -> float:
    """utime + stime of a /proc stat file, in seconds (0 once the process is gone)."""
    try:
        with open(path) as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_cpu(pid: int) -> CpuMeter:
    return lambda: _stat_cpu(f"/proc/{pid}/stat")


def thread_cpu(pid: int, *, main: bool) -> CpuMeter:
    """The main thread of ``pid`` (``main``), or all its other threads together."""
    if main:
        return lambda: _stat_cpu(f"/proc/{pid}/task/{pid}/stat")
    return lambda: process_cpu(pid)() - _stat_cpu(f"/proc/{pid}/task/{pid}/stat")


def postgres_cpu(pgdata: str) -> CpuMeter:
    """The postmaster of ``pgdata`` and its children (backends, WAL writer, checkpointer...)."""

    def meter() -> float:
        try:
            with open(os.path.join(pgdata, "postmaster.pid")) as f:
                postmaster = int(f.readline())
        except (OSError, ValueError):
            return 0.0
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(entry) == postmaster or int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / _TICK
        return total

    return meter


def load(
    port: int,
    args: argparse.Namespace,
    stations: int,
    meters: dict[str, CpuMeter] | None = None,
) -> dict[str, Any]:
    loaders = [
        spawn(
            "--role",
            "loader",
            "--port",
            str(port),
            "--seconds",
            str(args.seconds),
            "--connections",
            str(args.connections),
            "--stations",
            str(stations),
            "--offset",
            str(k * args.connections),
        )
        for k in range(args.loaders)
    ]
    for proc in loaders:
        wait_ready(proc)
    meters = meters or {}
    before = {name: meter() for name, meter in meters.items()}
    for proc in loaders:  # go, all at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    latencies: list[float] = []
    rate = 0.0
    loader_cpu = 0.0
    for proc in loaders:
        out, _ = proc.communicate(timeout=args.seconds + 120)
        result = json.loads(out.strip().splitlines()[-1])
        latencies += result["latencies"]
        rate += result["n"] / result["elapsed"]
        loader_cpu += result["cpu"]
    used = {name: meter() - before[name] for name, meter in meters.items()}
    used["loaders"] = loader_cpu
    latencies.sort()
    n = len(latencies)
    return {
        "rps": rate,
        "p50_ms": 1000 * latencies[n // 2],
        "p99_ms": 1000 * latencies[int(n * 0.99)],
        "requests": n,
        # CPU microseconds per request, per process (or thread group), and their sum
        "cpu_us": {name: round(1e6 * sec / n) for name, sec in used.items()},
        "cpu_us_total": round(1e6 * sum(used.values()) / n),
    }


def orchestrate(args: argparse.Namespace) -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}; {args.stations} stations "
        f"(compression: {args.compression}), {args.loaders} loader processes x "
        f"{args.connections} connections, {args.seconds} s per measurement; "
        + ("servers pinned to CPU 0, the rest on the others" if pin_cpus(args) else "no pinning"),
        flush=True,
    )
    pin = ["--server-cpus", ",".join(map(str, sorted(SERVER_CPUS)))] if pin_cpus(args) else []
    if pin:  # what starts from here on (loaders, simulator, PostgreSQL) keeps off CPU 0
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - SERVER_CPUS)
    floor = spawn("--role", "floor", *pin)
    (floor_port,) = wait_ready(floor)
    floor_result = load(int(floor_port), args, 0, {"floor": process_cpu(floor.pid)})
    stop(floor)
    print(f"floor (bare hypercorn/trio): {json.dumps(_round(floor_result))}", flush=True)

    from csms.storage import EmbeddedPostgres, connect, with_database
    from csms.storage.cli import migrate_url

    server = None
    url = os.environ.get("DATABASE_URL")
    tmp = tempfile.TemporaryDirectory(prefix="csms-bench-")
    if url is None:
        server = EmbeddedPostgres(tmp.name)
        server.start()
        admin = server.url
        with connect(admin, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS csms_bench_http")
            conn.execute("CREATE DATABASE csms_bench_http")
        url = with_database(admin, "csms_bench_http")
    migrate_url(url)
    try:
        node = spawn(
            "--role", "node", "--database-url", url, "--stations", str(args.stations), *pin
        )
        http_port, ocpp_port = wait_ready(node)
        started = time.perf_counter()
        sims = spawn(
            "--role",
            "stations",
            "--port",
            ocpp_port,
            "--count",
            str(args.stations),
            "--compression",
            args.compression,
        )
        wait_ready(sims)
        print(
            f"{args.stations} stations connected and booted in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        meters = {
            "node trio thread": thread_cpu(node.pid, main=True),
            "node worker threads": thread_cpu(node.pid, main=False),
            "stations": process_cpu(sims.pid),
        }
        if server is not None:
            meters["postgres"] = postgres_cpu(str(server.pgdata))
        node_result = load(int(http_port), args, args.stations, meters)
        stop(sims)
        stop(node)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()
    print(f"csms (REST -> station -> REST): {json.dumps(_round(node_result))}", flush=True)
    ratio = node_result["rps"] / floor_result["rps"]
    print(
        f"csms / floor: {ratio:.2f} (target >= 0.60); p99 {node_result['p99_ms']:.1f} ms "
        "(target < 100 ms)"
    )


def _round(result: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--role", default="main")
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--loaders", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--compression", choices=("deflate", "none"), default="deflate")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--server-cpus", default="")
    args = parser.parse_args()
    if args.server_cpus:  # a server pins itself before it starts any thread
        os.sched_setaffinity(0, {int(c) for c in args.server_cpus.split(",")})
    if args.role == "floor":
        run_floor()
    elif args.role == "node":
        profile = os.environ.get("BENCH_PROFILE")  # a file name: cProfile the node into it
        if profile:
            import cProfile

            with cProfile.Profile() as profiler:
                run_node(args.database_url, args.stations)
            profiler.dump_stats(profile)
        else:
            run_node(args.database_url, args.stations)
    elif args.role == "stations":
        run_stations(args.port, 0, args.count, args.compression)
    elif args.role == "loader":
        run_loader(args.port, args.seconds, args.connections, args.stations, args.offset)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
