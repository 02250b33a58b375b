"""Reconnect storm: N stations (re)connect at a fixed rate, csms beside the ``ocpp``-package peer.

    python scripts/bench/reconnect_storm.py [--stations 10000] [--rate 1000] [--rounds 2]

After a node restart or a network blip every station reconnects at once. Here ``--stations``
stations open a TCP connection at ``--rate`` per second in total (spread evenly over
``--loaders`` generator processes, each with its own source address on 127.0.0.0/8), do the
WebSocket handshake with HTTP Basic auth (security profile 1), send BootNotification and stay
connected until every station has booted or failed. Servers (``stations.py``'s, started the
same way, each in its own process pinned to CPU 0, the generators to CPU 1):

* **csms**: ``csms serve`` against an embedded PostgreSQL with every station registered
  (salted password hash, status Accepted), log level WARNING;
* **peer**: ``stations_peer.py``, the ``ocpp`` package's ChargePoint on ``websockets``/asyncio
  (it authenticates nobody);
* **echo** (``--servers echo``, not by default): ``csms.transport`` alone with an in-memory
  authenticator, sending every message back: what the node's handshakes cost without the node.

Each round runs the storm once against each server, the order alternating between rounds.
Reported per server and round, and pooled over the rounds:

* connect latency: from the start of the TCP connect to the handshake's ``101`` parsed
  (``tcp`` alone: to the TCP connection being established, which waits for the server's
  accept queue to have room);
* BootNotification latency: from the frame written to its CALLRESULT read;
* first connect to booted: from a station's first TCP connect to its BootNotification answered
  (the two above and what lies between; with ``--retry``, across its attempts);
* booted, refused (TCP refused or reset, or an HTTP status other than 101, by status) and
  failed (closed or timed out before booting); the server process's CPU during the storm (per
  thread too) and, for csms, its PostgreSQL's.

PostgreSQL is not pinned (as in ``stations.py``): it takes CPU from the node and from the
generators (a generator that waits for it counts its own delay as the node's latency).
``--pin-postgres`` pins it to the generators' CPU and runs the generators at nice -10, ahead of
it: the node then has CPU 0 to itself and the generators' clocks are exact, but the database
gets only what the generators leave on a CPU the machine's other work shares too, and the
BootNotifications, which read and write it, wait for it (measured: boot p50 0.03 s became 4 s).
``--no-pin`` pins nothing.

``--csms-env KEY=VALUE`` passes settings to the node (``CSMS_OCPP__MAX_ACCEPT_RATE=500`` shows
the accept-rate guard at work); with ``--retry`` a station refused with ``Retry-After`` connects
again that many seconds later (refusals then count attempts, not stations).
``BENCH_STATIONS_PROFILE=DIR`` profiles the node as in ``stations.py``; ``BENCH_STORM_PYSPY=DIR``
samples each server with py-spy during the storm (``pip install py-spy`` into the virtualenv;
not a project dependency). Everything listens and connects on 127.0.0.1 / 127.0.0.x only; each
station gives up ``--timeout`` seconds after the storm's last scheduled connect.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Run as a script, this directory comes first on sys.path and ``http.py`` beside this file would
# shadow the standard library's ``http`` (which websockets imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))


def _sibling(name: str) -> Any:
    """``stations.py`` or ``stations_load.py`` beside this file, imported by path."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stations = _sibling("stations")
stations_load = _sibling("stations_load")

#: Linux's IP_BIND_ADDRESS_NO_PORT: a source address bound before connect() gets its port at
#: connect() time, unique per 4-tuple, so consecutive storms never run out of ports.
_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


# --- one load generator process -------------------------------------------------------------------


class _Storm:
    """What the connections of one generator share: the frames, counters and latencies."""

    def __init__(self) -> None:
        self.boot = stations_load.call_frames("boot")[0]
        self.connect_us: list[int] = []
        self.tcp_us: list[int] = []
        self.boot_us: list[int] = []
        self.booted = 0
        self.tcp_refused = 0
        self.http_refused: dict[str, int] = {}
        self.retry_after: dict[str, int] = {}
        self.failed = 0
        self.samples: list[str] = []
        self.pending = 0
        self.done: asyncio.Future[None] | None = None
        #: ``--retry``: a station refused with Retry-After connects again that much later.
        self.retry: tuple[int, str] | None = None  # (port, source address)
        self.retries = 0
        #: Against the echo floor the BootNotification comes back as it went.
        self.echo = False
        self.until_booted_us: list[int] = []  # first connect attempt to BootNotification answered
        self._later: set[asyncio.Task[None]] = set()

    def again(self, sid: str, seconds: float, first: float) -> None:
        assert self.retry is not None
        port, source = self.retry
        self.retries += 1
        loop = asyncio.get_running_loop()

        def start() -> None:
            task = loop.create_task(_connect(self, port, sid, source, first))
            self._later.add(task)
            task.add_done_callback(self._later.discard)

        loop.call_later(seconds, start)

    def settle(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def fail(self, why: str) -> None:
        self.failed += 1
        if len(self.samples) < 5:
            self.samples.append(why)


class _Station(stations_load.Station):
    """One charge point: handshake with Basic auth, BootNotification, then answers pings.

    The frame reader (``data_received``: ``_handshake_data`` until the handshake is done, then
    ``_answer`` for each text frame, pongs and close replies by itself) is ``stations_load``'s;
    the rest is the storm's own, so the base class's constructor (a load mode's state) is not
    run.
    """

    def __init__(self, storm: _Storm, url: str, sid: str, started: float, first: float) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.storm = storm
        self.sid = sid
        self.started = started
        self.first = first
        self.boot_sent = 0.0
        self.settled = False
        self.transport: Any = None
        self.buffer = bytearray()
        self.handshake: Any = ClientProtocol(parse_uri(url), subprotocols=["ocpp2.0.1"])  # type: ignore[list-item]
        request = self.handshake.connect()
        token = base64.b64encode(f"{sid}:{stations_load.PASSWORD}".encode()).decode()
        request.headers["Authorization"] = f"Basic {token}"
        self.handshake.send_request(request)

    def _settle(self) -> None:
        if not self.settled:
            self.settled = True
            self.storm.settle()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"".join(self.handshake.data_to_send()))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.settled:
            stage = "handshake" if self.handshake is not None else "boot"
            self.storm.fail(f"closed during {stage}: {exc!r}")
            self._settle()

    def _handshake_data(self, data: bytes) -> None:
        from websockets.http11 import Response

        storm = self.storm
        self.handshake.receive_data(data)
        for event in self.handshake.events_received():
            if not isinstance(event, Response):
                continue
            if event.status_code != 101:
                status = str(event.status_code)
                storm.http_refused[status] = storm.http_refused.get(status, 0) + 1
                retry = event.headers.get("Retry-After")
                if retry is not None:
                    storm.retry_after[retry] = storm.retry_after.get(retry, 0) + 1
                if retry is not None and storm.retry is not None:
                    self.settled = True  # this attempt; the station is still pending
                    storm.again(self.sid, float(retry), self.first)
                else:
                    self._settle()
                self.transport.close()
                return
            now = time.perf_counter()
            storm.connect_us.append(round(1e6 * (now - self.started)))
            self.handshake = None
            self.boot_sent = now
            self.transport.write(storm.boot)
            return
        if self.handshake.handshake_exc is not None:
            storm.fail(f"bad handshake response: {self.handshake.handshake_exc!r}")
            self._settle()
            self.transport.close()

    def _answer(self, payload: bytes) -> None:
        if self.settled:
            return
        storm = self.storm
        if payload[1:2] == b"3" or storm.echo:
            now = time.perf_counter()
            storm.boot_us.append(round(1e6 * (now - self.boot_sent)))
            storm.until_booted_us.append(round(1e6 * (now - self.first)))
            storm.booted += 1
        else:
            storm.fail(f"BootNotification answered with {payload[:200]!r}")
        self._settle()


async def _connect(
    storm: _Storm, port: int, sid: str, source: str, first: float | None = None
) -> None:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    first = started if first is None else first
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except (ConnectionRefusedError, ConnectionResetError):
        sock.close()
        storm.tcp_refused += 1
        storm.settle()
        return
    except OSError as exc:
        sock.close()
        storm.fail(f"connect: {exc!r}")
        storm.settle()
        return
    storm.tcp_us.append(round(1e6 * (time.perf_counter() - started)))
    url = f"ws://127.0.0.1:{port}/ocpp/{sid}"
    try:
        await loop.create_connection(lambda: _Station(storm, url, sid, started, first), sock=sock)
    except OSError as exc:
        sock.close()
        storm.fail(f"connection: {exc!r}")
        storm.settle()


async def run_loader(
    port: int,
    ids: list[str],
    interval: float,
    offset: float,
    start_at: float,
    timeout: float,
    source: str,
    retry: bool,
    echo: bool,
) -> None:
    """Connect ``ids`` one every ``interval`` seconds from wall-clock ``start_at`` + ``offset``."""
    loop = asyncio.get_running_loop()
    storm = _Storm()
    storm.retry = (port, source) if retry else None
    storm.echo = echo
    storm.pending = len(ids)
    storm.done = loop.create_future()
    tasks: set[asyncio.Task[None]] = set()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter() + offset
    for j, sid in enumerate(ids):
        delay = t0 + j * interval - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = loop.create_task(_connect(storm, port, sid, source))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    last_connect = time.perf_counter() - t0
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(storm.done, timeout)
    finished = time.perf_counter() - t0
    timed_out = storm.pending
    result = {
        "stations": len(ids),
        "booted": storm.booted,
        "tcp_refused": storm.tcp_refused,
        "http_refused": storm.http_refused,
        "retry_after": storm.retry_after,
        "failed": storm.failed + timed_out,
        "timed_out": timed_out,
        "samples": storm.samples,
        "last_connect_s": last_connect,
        "finished_s": finished,
        "connect_us": storm.connect_us,
        "tcp_us": storm.tcp_us,
        "boot_us": storm.boot_us,
        "retries": storm.retries,
        "until_booted_us": storm.until_booted_us,
    }
    print(json.dumps(result), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "quit": hang up every station


def loader_main(argv: list[str]) -> None:
    port, first, count, step, rate, start_at, timeout, source, retry, echo, ahead = argv
    if ahead == "1":  # --pin-postgres: ahead of the database on the generators' CPU
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, -10)
    # Stations first, first + step, first + 2 step...: this loader's share of a storm at ``rate``.
    ids = [stations.station_id(int(first) + m * int(step)) for m in range(int(count))]
    interval, offset = int(step) / float(rate), int(first) / float(rate)
    asyncio.run(
        run_loader(
            int(port),
            ids,
            interval,
            offset,
            float(start_at),
            float(timeout),
            source,
            retry == "1",
            echo == "1",
        )
    )


# --- the orchestrator -----------------------------------------------------------------------------


def _percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] / 1e6


def _drain(stream: Any) -> None:
    """Read a server's stdout to its end, so its logging can never fill the pipe and block it."""
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def _py_spy(server: Any, label: str, seconds: float) -> subprocess.Popen[bytes] | None:
    """``BENCH_STORM_PYSPY=DIR``: sample the server during the storm (py-spy, the threads that
    hold the GIL), collapsed stacks in ``DIR/{label}.txt``."""
    out = os.environ.get("BENCH_STORM_PYSPY")
    if not out:
        return None
    Path(out).mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.proc.pid)]
    cmd += ["--duration", str(round(seconds)), "--rate", "100", "--idle"]
    cmd += ["--format", "raw", "-o", str(Path(out) / f"{label}.txt")]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def storm(
    kind: str, args: argparse.Namespace, ns: argparse.Namespace, url: str, pg_dir: str, label: str
) -> Any:
    server = stations.Server(kind, ns, url, label)
    assert server.proc.stdout is not None
    _drain(server.proc.stdout)
    procs: list[subprocess.Popen[str]] = []
    try:
        time.sleep(2)  # let start-up settle
        n, k = args.stations, args.loaders
        start_at = time.time() + 1.0 + 0.2 * k
        cpu = None if args.no_pin else stations.LOADER_CPU
        for j in range(k):
            # Loader j takes stations j, j+k, j+2k...: interleaved, the total rate is --rate.
            source = f"127.0.{1 + args.source_block}.{2 + j}"
            count = len(range(j, n, k))
            cmd = [sys.executable, __file__, "--role", "loader", str(server.port)]
            cmd += [str(j), str(count), str(k), str(args.rate), f"{start_at:.6f}"]
            cmd += [str(args.timeout), source, "1" if args.retry else "0"]
            cmd += ["1" if kind == "echo" else "0", "1" if args.pin_postgres else "0"]
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    preexec_fn=stations._preexec(cpu),
                )
            )
        time.sleep(max(0.0, start_at - time.time()))
        cpu_before, rss_before, threads = server.cpu(), server.rss(), server.thread_cpu()
        pg_before = stations.postgres_cpu(pg_dir)
        spy = _py_spy(server, label, n / args.rate + 2.0)
        results = []
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("load generator ended early")
            results.append(json.loads(line))
        cpu_used, rss_after = server.cpu() - cpu_before, server.rss()
        pg_used = stations.postgres_cpu(pg_dir) - pg_before
        threads = {k: v - threads.get(k, 0.0) for k, v in server.thread_cpu().items()}
        if spy is not None:
            spy.wait(timeout=120)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("quit\n")
            p.stdin.flush()
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        server.stop()
    args.source_block = (args.source_block + 1) % 250
    summary = _merge(results)
    summary["server_cpu_s"] = cpu_used
    summary["postgres_cpu_s"] = pg_used if kind == "csms" else 0.0
    summary["rss_mb"] = (rss_before / 2**20, rss_after / 2**20)
    summary["thread_cpu_s"] = {k: round(v, 2) for k, v in sorted(threads.items()) if v >= 0.05}
    return summary


_LATENCIES = ("connect_us", "tcp_us", "boot_us", "until_booted_us")
_COUNTS = ("stations", "booted", "tcp_refused", "failed", "timed_out", "retries")


def pin_postgres(data_dir: str, cpu: int) -> int:
    """Pin the embedded PostgreSQL (its postmaster, and so every backend it forks later, and its
    helpers) to ``cpu``; how many processes were pinned."""
    postmaster = None
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rpartition(")")[2].split()[1]
            )
            if postmaster is None and data_dir in (entry / "cmdline").read_text():
                postmaster = int(entry.name)
    pinned = 0
    for pid, ppid in parents.items():
        if postmaster is not None and postmaster in (pid, ppid):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {cpu})
                pinned += 1
    return pinned


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Loaders' results into a storm's, or storms' into the pooled figures."""
    merged: dict[str, Any] = {key: sum(p[key] for p in parts) for key in _COUNTS}
    merged.update({key: [x for p in parts for x in p[key]] for key in _LATENCIES})
    for key in ("http_refused", "retry_after"):
        merged[key] = {}
        for p in parts:
            for k, v in p[key].items():
                merged[key][k] = merged[key].get(k, 0) + v
    merged["samples"] = [x for p in parts for x in p["samples"]][:5]
    merged["last_connect_s"] = max(p["last_connect_s"] for p in parts)
    merged["finished_s"] = max(p["finished_s"] for p in parts)
    return merged


def _line(kind: str, r: dict[str, Any]) -> str:
    refused = r["tcp_refused"] + sum(r["http_refused"].values())
    by_status = ",".join(f"{k}:{v}" for k, v in sorted(r["http_refused"].items()))
    return (
        f"{kind:<5} connect p50 {_percentile(r['connect_us'], 0.5):6.3f} s "
        f"p99 {_percentile(r['connect_us'], 0.99):6.3f} s "
        f"(tcp p50 {_percentile(r['tcp_us'], 0.5):.3f} p99 {_percentile(r['tcp_us'], 0.99):.3f}) | "
        f"boot p50 {1000 * _percentile(r['boot_us'], 0.5):7.1f} ms "
        f"p99 {1000 * _percentile(r['boot_us'], 0.99):7.1f} ms | "
        f"booted {r['booted']:,}/{r['stations']:,} refused {refused} "
        f"(tcp {r['tcp_refused']}{', http ' + by_status if by_status else ''}) "
        f"failed {r['failed']} | storm {r['last_connect_s']:.1f} s, all settled "
        f"{r['finished_s']:.1f} s, server CPU {r['server_cpu_s']:.1f} s"
        + (f" + PostgreSQL {r['postgres_cpu_s']:.1f} s" if r.get("postgres_cpu_s") else "")
        + f" | first connect to booted p50 {_percentile(r['until_booted_us'], 0.5):.3f} s "
        f"p99 {_percentile(r['until_booted_us'], 0.99):.3f} s"
        + (f", {r['retries']} retries after Retry-After" if r["retries"] else "")
    )


def orchestrate(args: argparse.Namespace) -> None:
    import importlib.metadata

    import trio
    import websockets

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_loader = -(-args.stations // args.loaders)
    if per_loader + 100 > hard or args.stations + 1100 > hard:
        sys.exit(f"open-file hard limit {hard} is too low for {args.stations} stations")
    print(
        f"machine: nproc={os.cpu_count()} cpu={stations._cpu_model()!r} "
        f"python={platform.python_version()} websockets={websockets.__version__} "
        f"ocpp={importlib.metadata.version('ocpp')} trio={trio.__version__} somaxconn="
        f"{Path('/proc/sys/net/core/somaxconn').read_text().strip()} nofile={hard}; "
        f"{args.stations:,} stations at {args.rate:,.0f}/s from {args.loaders} loaders; "
        f"pinning: {'off' if args.no_pin else 'servers CPU 0, load generators CPU 1'}",
        flush=True,
    )
    for item in args.csms_env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    # stations.Server reads these: the connection limit follows ``idle``; ``stations`` is unused.
    ns = argparse.Namespace(idle=args.stations, stations=0, no_pin=args.no_pin)
    args.source_block = 0
    report: dict[str, Any] = {"args": {k: v for k, v in vars(args).items()}, "rounds": []}
    pooled: dict[str, list[dict[str, Any]]] = {kind: [] for kind in args.servers}
    with tempfile.TemporaryDirectory(prefix="csms-bench-storm-") as tmp:
        pg, url = stations.setup_database(ns, tmp)
        if args.pin_postgres and not args.no_pin:
            pin_postgres(tmp, stations.LOADER_CPU)
        try:
            for round_no in range(args.rounds):
                order = args.servers if round_no % 2 == 0 else list(reversed(args.servers))
                for kind in order:
                    r = storm(kind, args, ns, url, tmp, f"{kind}-storm-{round_no}")
                    pooled[kind].append(r)
                    report["rounds"].append({"kind": kind, "round": round_no, **r})
                    print(f"round {round_no + 1}: {_line(kind, r)}", flush=True)
                    print(f"    CPU s per thread: {r['thread_cpu_s']}", flush=True)
        finally:
            pg.stop()
    print("pooled over the rounds:")
    for kind, runs in pooled.items():
        total = _merge(runs)
        total["server_cpu_s"] = sum(r["server_cpu_s"] for r in runs) / len(runs)
        total["postgres_cpu_s"] = sum(r["postgres_cpu_s"] for r in runs) / len(runs)
        print(f"  {_line(kind, total)}", flush=True)
    if args.json:
        for entry in report["rounds"]:
            for key in _LATENCIES:
                values = entry.pop(key)
                entry[f"{key[:-3]}_p50_s"] = _percentile(values, 0.5)
                entry[f"{key[:-3]}_p99_s"] = _percentile(values, 0.99)
        Path(args.json).write_text(json.dumps(report, indent=2))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1:3] == ["--role", "loader"]:
        loader_main(sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="connects per second, total")
    parser.add_argument("--rounds", type=int, default=2, help="servers alternate between rounds")
    parser.add_argument("--loaders", type=int, default=2, help="generator processes")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds after the last connect"
    )
    servers = ["peer", "csms", "echo"]
    parser.add_argument("--servers", nargs="+", default=["peer", "csms"], choices=servers)
    parser.add_argument("--csms-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--retry", action="store_true", help="a station refused with Retry-After tries again then"
    )
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--pin-postgres", action="store_true", help="PostgreSQL on the generators' CPU, behind them"
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.stations < 1 or args.rate <= 0 or args.loaders < 1 or args.rounds < 1:
        parser.error("--stations, --rate, --loaders and --rounds must be positive")
    orchestrate(args)


if __name__ == "__main__":
    main()
