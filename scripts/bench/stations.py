"""Station connectivity benchmark: a whole node beside a minimal ``ocpp``-package CSMS, in one run.

    python scripts/bench/stations.py [--idle 5000] [--stations 200] [--seconds 10] [--rounds 3]

Servers, each in its own process (pinned to CPU 0 unless ``--no-pin``):

* **csms**: ``python -m csms.cli serve`` against an embedded PostgreSQL started here in a
  temporary directory (unpinned), stations registered beforehand with a salted password hash;
  log level WARNING, ``heartbeat_interval`` 3600 s, everything else at its defaults (inbound
  schema validation, group commit of 5000 rows or 2 ms, pings every 30 s).
* **peer**: ``stations_peer.py``, the ``ocpp`` package's ChargePoint on ``websockets``/asyncio
  as its README shows it; it validates and stores nothing.
* **echo**: ``csms.transport`` with a handler that sends every text message back (the floor:
  trio streams driving websockets' sans-IO protocol, Basic auth, pings, nothing else).

The load generator is ``stations_load.py`` (``--loaders`` processes, pinned to CPU 1): asyncio
protocols with pre-serialized frames. Scenarios, each against a freshly started server:

(a) ``--idle`` stations connect (64 handshakes at a time per loader), boot, then stay connected
    for ``--hold`` seconds, each sending a Heartbeat every ``--hold`` seconds at a random moment;
    memory per station is the server process's RSS growth divided by the stations.
(b) ``--stations`` stations each keep one Heartbeat outstanding for ``--seconds``.
(c) the same with MeterValues of 10 sampled values (csms stores them and answers after commit).
(d) the ordinary transaction flow: ``--stations`` stations each run whole transactions in a loop,
    one CALL outstanding per station: StatusNotification Occupied, Authorize, TransactionEvent
    Started, 2-5 Updated each with a meter value of 3-10 sampled values, Ended,
    StatusNotification Available (``stations_load.transaction_flow``); seqNo counts up, each
    transaction has a fresh id. The id token is registered in csms beforehand (Accepted), so
    Authorize takes csms's real path; csms answers each TransactionEvent after its commit.

``--modes`` picks among (b) ``heartbeat``, (c) ``meter`` and (d) ``transactions`` (all three by
default; ``--modes transactions`` runs only (d), ``--modes`` alone none). Each runs ``--rounds``
times, the three servers alternating, and the round with the most messages/s of each server is
reported (its p50/p99 with it). ``--servers csms`` (or any subset, in round order) runs only
those, for profiling; the ratios need all three.

Reported: messages/s (for (d) also per message type, and the TransactionEvent p50/p99), p50/p99
latency seen by the stations, the server process's CPU per message (and PostgreSQL's, for csms),
the CPU the load generators used (a generator near a whole core would be the limit, not the
server), and the ratios the targets are stated in.
``BENCH_STATIONS_PROFILE=DIR`` runs the csms node under cProfile (the trio thread only) and
leaves one profile per scenario in DIR (``python -m pstats`` reads them); with
``BENCH_STATIONS_PROFILER=yappi`` as well, under yappi (every thread, CPU clock), with ``gc``
with its garbage-collection pauses recorded (see ``stations_profile.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Run as a script, this directory comes first on sys.path and ``http.py`` beside this file would
# shadow the standard library's ``http`` (which websockets imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

PASSWORD = "Bench-password-0123456789"
ID_TOKEN = ("BENCH-TOKEN-0001", "ISO14443")  # as stations_load.ID_TOKEN
MODE_LETTERS = {"heartbeat": "b", "meter": "c", "transactions": "d"}


def station_id(i: int) -> str:
    return f"BENCH{i:06d}"


SERVER_CPU, LOADER_CPU = 0, 1


# --- the echo floor (own process) ----------------------------------------------------------------


def run_echo(port: int, count: int) -> None:
    import trio

    from csms.transport import (
        ConnectionClosed,
        OcppWebSocket,
        StaticAuthenticator,
        WebSocketSettings,
        hash_password,
        serve_ocpp_websocket,
    )

    stored = hash_password(PASSWORD)
    auth = StaticAuthenticator({station_id(i): stored for i in range(count)})

    async def echo(conn: OcppWebSocket) -> None:
        try:
            while True:
                await conn.send_text(await conn.receive_text())
        except ConnectionClosed:
            pass

    async def main() -> None:
        settings = WebSocketSettings(max_connections=count + 100, ping_interval=30.0)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: serve_ocpp_websocket(
                    echo,
                    settings=settings,
                    authenticator=auth,
                    host="127.0.0.1",
                    port=port,
                    task_status=task_status,
                )
            )
            print("READY", flush=True)
            await trio.to_thread.run_sync(sys.stdin.read)
            nursery.cancel_scope.cancel()

    trio.run(main)


# --- processes -----------------------------------------------------------------------------------


def _preexec(cpu: int | None) -> Any:
    def setup() -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One server process: started, waited for, measured (RSS, CPU), stopped."""

    def __init__(self, kind: str, args: argparse.Namespace, url: str, label: str) -> None:
        self.kind = kind
        self.port = free_port()
        env = dict(os.environ)
        if kind == "csms":
            env.update(
                DATABASE_URL=url,
                CSMS_OCPP__HOST="127.0.0.1",
                CSMS_HTTP__HOST="127.0.0.1",
                CSMS_LOG__LEVEL="WARNING",
                CSMS_OCPP__HEARTBEAT_INTERVAL="3600",
                CSMS_OCPP__MAX_CONNECTIONS=str(args.idle + 1000),
            )
            cmd = [sys.executable]
            profile_dir = os.environ.get("BENCH_STATIONS_PROFILE")
            if profile_dir:
                Path(profile_dir).mkdir(parents=True, exist_ok=True)
                out = str(Path(profile_dir) / f"{label}.prof")
                profiler = os.environ.get("BENCH_STATIONS_PROFILER", "cprofile")
                if profiler in ("yappi", "gc", "gc-freeze", "memory"):
                    cmd += [str(HERE / "stations_profile.py"), profiler, out]
                else:
                    cmd += ["-m", "cProfile", "-o", out, "-m", "csms.cli"]
            else:
                cmd += ["-m", "csms.cli"]
            cmd += ["serve", "--ocpp-port", str(self.port)]
            cmd += ["--http-port", str(free_port())]
            ready = "running"
        elif kind == "peer":
            cmd = [sys.executable, str(HERE / "stations_peer.py"), str(self.port)]
            ready = "READY"
        else:
            count = max(args.idle, args.stations)
            cmd = [sys.executable, __file__, "--role", "echo", str(self.port), str(count)]
            ready = "READY"
        cpu = None if args.no_pin else SERVER_CPU
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_preexec(cpu),
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if ready in line:
                break
        else:
            raise RuntimeError(f"{kind} server did not start")

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def cpu(self) -> float:
        return _cpu_seconds(self.proc.pid)

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds per thread name (threads of one name summed)."""
        out: dict[str, float] = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
                out[name] = out.get(name, 0.0) + _cpu_seconds(int(task.name), task)
            except OSError:
                continue
        return out

    def stop(self) -> None:
        if self.kind == "csms":
            self.proc.send_signal(signal.SIGTERM)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cpu_seconds(pid: int, task: Path | None = None) -> float:
    stat = (task or Path(f"/proc/{pid}")) / "stat"
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(data_dir: str) -> float:
    """CPU seconds of the embedded PostgreSQL's processes (the postmaster and its children)."""
    postmaster = None
    procs: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            procs[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
            if postmaster is None and data_dir in (entry / "cmdline").read_text():
                postmaster = int(entry.name)
        except OSError:
            continue
    if postmaster is None:
        return 0.0
    total = 0.0
    for pid, ppid in procs.items():
        if pid == postmaster or ppid == postmaster:
            with contextlib.suppress(OSError):
                total += _cpu_seconds(pid)
    return total


class Loaders:
    """``--loaders`` generator processes sharing the stations ``0 .. count-1``."""

    def __init__(self, args: argparse.Namespace, port: int, count: int, mode: str) -> None:
        seconds = args.hold if mode == "idle" else args.seconds
        n = args.loaders
        cpu = None if args.no_pin else LOADER_CPU
        self.procs = []
        for k in range(n):
            first, last = count * k // n, count * (k + 1) // n
            cmd = [sys.executable, str(HERE / "stations_load.py"), str(port), str(first)]
            cmd += [str(last - first), mode, str(seconds), f"127.0.0.{2 + k}"]
            self.procs.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    preexec_fn=_preexec(cpu),
                )
            )
        self.connect_s = max(self.read(p)["connect_s"] for p in self.procs)

    @staticmethod
    def read(proc: subprocess.Popen[str]) -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("load generator ended early")
        result: dict[str, Any] = json.loads(line)
        return result

    def tell(self, word: str) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(word + "\n")
            p.stdin.flush()

    def results(self) -> list[dict[str, Any]]:
        out = [self.read(p) for p in self.procs]
        for p in self.procs:
            p.wait(timeout=60)
        return out


# --- scenarios -----------------------------------------------------------------------------------


def idle(kind: str, args: argparse.Namespace, url: str) -> dict[str, Any]:
    server = Server(kind, args, url, f"{kind}-idle")
    try:
        time.sleep(2)  # let start-up garbage settle
        traced = kind == "csms" and os.environ.get("BENCH_STATIONS_PROFILER") == "memory"
        if traced:
            server.proc.send_signal(signal.SIGUSR1)
        before = server.rss()
        loaders = Loaders(args, server.port, args.idle, "idle")
        loaders.tell("go")
        cpu = server.cpu()
        time.sleep(args.hold)
        cpu_per_s = (server.cpu() - cpu) / args.hold
        after = server.rss()
        if traced:
            server.proc.send_signal(signal.SIGUSR2)
            time.sleep(5)
        loaders.tell("quit")
        end = loaders.results()
    finally:
        server.stop()
    return {
        "stations": args.idle,
        "connect_s": loaders.connect_s,
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "kib_per_station": (after - before) / args.idle / 1024,
        "idle_cpu_share": cpu_per_s,
        "errors": sum(r["errors"] for r in end),
        "closed": sum(r["closed"] for r in end),
    }


def saturate(kind: str, mode: str, args: argparse.Namespace, url: str, pg_dir: str) -> Any:
    server = Server(kind, args, url, f"{kind}-{mode}")
    try:
        loaders = Loaders(args, server.port, args.stations, mode)
        cpu, pg, threads = server.cpu(), postgres_cpu(pg_dir), server.thread_cpu()
        if kind == "csms" and os.environ.get("BENCH_STATIONS_PROFILER", "").startswith("gc"):
            server.proc.send_signal(signal.SIGUSR1)
        loaders.tell("go")
        results = loaders.results()
        cpu, pg = server.cpu() - cpu, postgres_cpu(pg_dir) - pg
        threads = {k: v - threads.get(k, 0.0) for k, v in server.thread_cpu().items()}
    finally:
        server.stop()
    latencies = sorted(x for r in results for x in r["latencies_us"])
    n = len(latencies)
    rate = sum(r["n"] / r["elapsed"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    by_action: dict[str, list[int]] = {}
    for r in results:
        for action, values in r.get("by_action_us", {}).items():
            by_action.setdefault(action, []).extend(values)
    per_action = {}
    for action, values in sorted(by_action.items()):
        values.sort()
        per_action[action] = {
            "msg_per_s": len(values) / elapsed,
            "p50_ms": values[len(values) // 2] / 1000,
            "p99_ms": values[int(len(values) * 0.99)] / 1000,
        }
    errors = sum(r["errors"] for r in results)
    sample = next((r["error_sample"] for r in results if r["error_sample"]), "")
    return {
        "msg_per_s": rate,
        "messages": n,
        "p50_ms": latencies[n // 2] / 1000,
        "p99_ms": latencies[int(n * 0.99)] / 1000,
        "server_cpu_us": 1e6 * cpu / n,
        "server_cores": cpu / args.seconds,
        "postgres_cpu_us": 1e6 * pg / n if kind == "csms" else 0.0,
        "errors": errors,
        "error_sample": sample,
        "thread_cpu_us": {k: 1e6 * v / n for k, v in threads.items() if v > 0.01 * args.seconds},
        "per_action": per_action,
        "loader_cores": sum(r["cpu_s"] for r in results) / elapsed,
    }


def setup_database(args: argparse.Namespace, data_dir: str) -> tuple[Any, str]:
    from csms.storage import EmbeddedPostgres, connect, with_database
    from csms.storage.cli import migrate_url
    from csms.transport import hash_password

    server = EmbeddedPostgres(data_dir)
    admin = server.start()
    with connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE csms_bench_stations")
    url = with_database(admin, "csms_bench_stations")
    migrate_url(url)
    hashed = hash_password(PASSWORD)
    with connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stations (id, password_hash, registration_status)"
            " VALUES (%s, %s, 'Accepted')",
            [(station_id(i), hashed) for i in range(max(args.idle, args.stations))],
        )
        cur.execute(
            "INSERT INTO id_tokens (id_token, type, status) VALUES (%s, %s, 'Accepted')",
            ID_TOKEN,
        )
        conn.commit()
    return server, url


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def orchestrate(args: argparse.Namespace) -> None:
    import ocpp.messages
    import websockets

    print(
        f"machine: nproc={os.cpu_count()} cpu={_cpu_model()!r} "
        f"python={platform.python_version()} websockets={websockets.__version__} "
        f"ocpp.ASYNC_VALIDATION={ocpp.messages.ASYNC_VALIDATION}"
        f"; pinning: {'off' if args.no_pin else 'servers CPU 0, load generators CPU 1'}",
        flush=True,
    )
    report: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="csms-bench-stations-") as tmp:
        pg, url = setup_database(args, tmp)
        try:
            if args.idle:
                for kind in ("peer", "csms"):
                    r = report[f"idle/{kind}"] = idle(kind, args, url)
                    print(
                        f"(a) idle {kind:<5} {r['stations']:,} stations connected+booted in "
                        f"{r['connect_s']:.1f} s; RSS {r['rss_before_mb']:.0f} -> "
                        f"{r['rss_after_mb']:.0f} MB = {r['kib_per_station']:.1f} KiB/station; "
                        f"idle CPU {100 * r['idle_cpu_share']:.1f}% of a core; "
                        f"errors {r['errors']} closed {r['closed']}",
                        flush=True,
                    )
            for mode in args.modes:
                for kind in args.servers:
                    report[f"{mode}/{kind}"] = None
                for _ in range(args.rounds):  # servers alternate; the best round of each counts
                    for kind in args.servers:
                        r = saturate(kind, mode, args, url, tmp)
                        best = report[f"{mode}/{kind}"]
                        if best is None or r["msg_per_s"] > best["msg_per_s"]:
                            report[f"{mode}/{kind}"] = r
                        print(
                            f"    round: {mode} {kind} {r['msg_per_s']:,.0f} msg/s "
                            f"p99 {r['p99_ms']:.1f} ms",
                            flush=True,
                        )
                for kind in args.servers:
                    r = report[f"{mode}/{kind}"]
                    print(
                        f"({MODE_LETTERS.get(mode, '?')}) {mode:<9} {kind:<5} "
                        f"{r['msg_per_s']:>8,.0f} msg/s  p50 {r['p50_ms']:6.2f} ms  "
                        f"p99 {r['p99_ms']:6.2f} ms  server CPU {r['server_cpu_us']:5.1f} us/msg "
                        f"({r['server_cores']:.2f} cores)  PostgreSQL CPU "
                        f"{r['postgres_cpu_us']:.1f} us/msg  load generator "
                        f"{r['loader_cores']:.2f} cores  errors {r['errors']} "
                        f"{r['error_sample'][:160]}",
                        flush=True,
                    )
                    if r["per_action"]:
                        per_action = ", ".join(
                            f"{a} {v['msg_per_s']:,.0f}/s p50 {v['p50_ms']:.1f} p99 "
                            f"{v['p99_ms']:.1f} ms"
                            for a, v in r["per_action"].items()
                        )
                        print(f"    per type: {per_action}", flush=True)
                    if kind == "csms":
                        per_thread = ", ".join(
                            f"{k} {v:.1f}" for k, v in sorted(r["thread_cpu_us"].items())
                        )
                        print(f"    csms CPU per thread, us/msg: {per_thread}", flush=True)
                if len(args.servers) < 3:
                    continue
                ours, peer, echo = (report[f"{mode}/{k}"] for k in ("csms", "peer", "echo"))
                tx_p99 = ""
                te_ours = ours["per_action"].get("TransactionEvent")
                te_peer = peer["per_action"].get("TransactionEvent")
                if te_ours and te_peer:
                    ratio = te_ours["p99_ms"] / te_peer["p99_ms"]
                    tx_p99 = f", TransactionEvent p99 csms/peer {ratio:.2f}"
                print(
                    f"    {mode}: csms/peer {ours['msg_per_s'] / peer['msg_per_s']:.2f}x, "
                    f"csms/echo {ours['msg_per_s'] / echo['msg_per_s']:.2f}, "
                    f"p99 csms/peer {ours['p99_ms'] / peer['p99_ms']:.2f}{tx_p99}",
                    flush=True,
                )
        finally:
            pg.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--role", default="main")
    parser.add_argument("--idle", type=int, default=5000, help="0 skips (a)")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds idle stations stay")
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--loaders", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="of (b)-(d); best counts")
    parser.add_argument(
        "--modes",
        nargs="*",
        choices=list(MODE_LETTERS),
        default=list(MODE_LETTERS),
        help="saturating scenarios to run, of heartbeat (b), meter (c), transactions (d)",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        choices=["echo", "peer", "csms"],
        default=["echo", "peer", "csms"],
        help="servers of (b)-(d), in their order in a round (ratios need all three)",
    )
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--json")
    args, rest = parser.parse_known_args()
    if args.role == "echo":
        run_echo(int(rest[0]), int(rest[1]))
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
