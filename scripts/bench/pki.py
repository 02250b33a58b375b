"""PKI benchmark: Plug & Charge Authorize and a certificate renewal wave against one node.

    python scripts/bench/pki.py [--stations 5000] [--warm-rounds 3] [--json FILE]

Set up here: a test PKI (a CSMS-side CA for station certificates; MO root -> MO sub-CA 1 ->
MO sub-CA 2 -> one contract per station, CN its EMAID), an embedded PostgreSQL with the stations
and one eMAID id token each, and an OCSP responder (``--role responder``: starlette on hypercorn,
answers pre-signed by the issuer, looked up by serial). The node is ``csms serve`` with that PKI
in ``[certificates]``, pinned to CPU 0; the responder and the load generator (``--role load``:
asyncio, one ``websockets`` client per station) share CPU 1. Phases:

1. **Authorize, cold**: each station sends Authorize with the iso15118CertificateHashData of its
   contract chain (leaf, sub-CA 2, sub-CA 1). The leaf's OCSP answer is not cached yet (one
   request to the responder per Authorize); the sub-CAs' answers are, after the first ones.
2. **Authorize, warm**: the same ``--warm-rounds`` times more: every answer from the cache.
3. **Renewal wave**: each station sends SignCertificate with a fresh CSR; the node checks it,
   answers Accepted, signs it with its CA and sends CertificateSigned, which the station answers
   Accepted. The rate is stations renewed per second from the first SignCertificate to the last
   CertificateSigned received.

At most ``--concurrency`` CALLs (200) are outstanding over the whole fleet: the node answers a
Plug & Charge ask within 5 s or the handler's default goes out, so an unbounded burst measures
the deadline, not the rate (the renewal scheduler, too, triggers stations one after another).

Validations per second, latency p50/p99 (CALL sent -> CALLRESULT), the node's CPU per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
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
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Run as a script, this directory comes first on sys.path and ``http.py`` beside this file would
# shadow the standard library's ``http`` (which websockets imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))


def _beside(name: str) -> Any:
    sys.path.append(str(HERE))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = [p for p in sys.path if p != str(HERE)]


fixtures = _beside("pki_fixtures")
PASSWORD, build_pki, emaid = fixtures.PASSWORD, fixtures.build_pki, fixtures.emaid
run_responder, station_id = fixtures.run_responder, fixtures.station_id
ORGANISATION = fixtures.ORGANISATION


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _preexec(cpu: int | None) -> Any:
    def setup() -> None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load generator (--role load) ------------------------------------------------------------


async def run_load(port: int, load_file: str, concurrency: int) -> None:
    from websockets.asyncio.client import connect

    stations = json.loads(Path(load_file).read_text())  # noqa: ASYNC240 (before any I/O)
    token = {s["id"]: base64.b64encode(f"{s['id']}:{PASSWORD}".encode()).decode() for s in stations}

    class Station:
        def __init__(self, spec: dict[str, Any]) -> None:
            self.spec = spec
            self.ws: Any = None
            self.pending: dict[str, asyncio.Future[Any]] = {}
            self.signed = asyncio.get_running_loop().create_future()

        async def open(self) -> None:
            self.ws = await connect(
                f"ws://127.0.0.1:{port}/ocpp/{self.spec['id']}",
                subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
                additional_headers={"Authorization": f"Basic {token[self.spec['id']]}"},
                max_queue=None,
            )
            asyncio.get_running_loop().create_task(self.read())
            boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
            await self.call("BootNotification", boot)

        async def read(self) -> None:
            async for text in self.ws:
                frame = json.loads(text)
                if frame[0] == 3:
                    self.pending.pop(frame[1]).set_result(frame[2])
                elif frame[0] == 2:
                    await self.ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
                    if frame[2] == "CertificateSigned" and not self.signed.done():
                        self.signed.set_result(time.monotonic())

        async def call(self, action: str, payload: dict[str, Any]) -> tuple[Any, float]:
            message_id = str(uuid.uuid4())
            future = asyncio.get_running_loop().create_future()
            self.pending[message_id] = future
            sent = time.monotonic()
            await self.ws.send(json.dumps([2, message_id, action, payload]))
            return await future, time.monotonic() - sent

    fleet = [Station(s) for s in stations]
    for start in range(0, len(fleet), 200):  # connections in batches: no accept storm
        await asyncio.gather(*(s.open() for s in fleet[start : start + 200]))
    print(json.dumps({"ready": len(fleet)}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    gate = asyncio.Semaphore(concurrency)

    async def authorize(s: Station) -> tuple[Any, float]:
        async with gate:
            payload = {
                "idToken": {"idToken": s.spec["emaid"], "type": "eMAID"},
                "iso15118CertificateHashData": s.spec["hash_data"],
            }
            return await s.call("Authorize", payload)

    async def renew(s: Station) -> tuple[Any, float, float | None]:
        async with gate:
            payload = {"csr": s.spec["csr"], "certificateType": "ChargingStationCertificate"}
            answer, latency = await s.call("SignCertificate", payload)
            if answer.get("status") != "Accepted":
                return answer, latency, None
            try:
                return answer, latency, await asyncio.wait_for(asyncio.shield(s.signed), 60)
            except TimeoutError:
                return answer, latency, None

    while line := (await reader.readline()).decode().strip():
        if line == "quit":
            break
        began = time.monotonic()
        if line == "authorize":
            results = await asyncio.gather(*(authorize(s) for s in fleet))
            statuses = [r[0].get("certificateStatus") for r in results]
            latencies = [r[1] for r in results]
            extra: dict[str, Any] = {"accepted": statuses.count("Accepted")}
        else:  # renewal
            renewed = await asyncio.gather(*(renew(s) for s in fleet))
            signed_at = [r[2] for r in renewed if r[2] is not None]
            latencies = [r[1] for r in renewed]
            extra = {
                "accepted": sum(r[0].get("status") == "Accepted" for r in renewed),
                "signed": len(signed_at),
                "signed_all_s": max(signed_at) - began if signed_at else None,
            }
        elapsed = time.monotonic() - began
        print(
            json.dumps(
                {
                    "seconds": elapsed,
                    "per_second": len(fleet) / elapsed,
                    "p50_ms": 1000 * percentile(latencies, 0.5),
                    "p99_ms": 1000 * percentile(latencies, 0.99),
                    **extra,
                }
            ),
            flush=True,
        )
    for s in fleet:
        await s.ws.close()


# --- orchestration -------------------------------------------------------------------------------


def setup_database(data_dir: str, stations: int) -> tuple[Any, str]:
    from csms.storage import EmbeddedPostgres, connect, with_database
    from csms.storage.cli import migrate_url
    from csms.transport import hash_password

    server = EmbeddedPostgres(data_dir)
    admin = server.start()
    with connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE csms_bench_pki")
    url = with_database(admin, "csms_bench_pki")
    migrate_url(url)
    hashed = hash_password(PASSWORD)
    with connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO stations (id, password_hash, registration_status)"
            " VALUES (%s, %s, 'Accepted')",
            [(station_id(i), hashed) for i in range(stations)],
        )
        cur.executemany(
            "INSERT INTO id_tokens (id_token, type, status) VALUES (%s, 'eMAID', 'Accepted')",
            [(emaid(i),) for i in range(stations)],
        )
        conn.commit()
    return server, url


def start(cmd: list[str], ready: str, cpu: int | None, env: dict[str, str] | None = None) -> Any:
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_preexec(cpu),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if ready in line:
            return proc
    raise RuntimeError(f"{cmd[:3]} did not start")


def run_phases(
    args: argparse.Namespace,
    work: Path,
    env: dict[str, str],
    me: list[str],
    responder_port: int,
    ocpp_port: int,
    config: Path,
    started: list[Any],
) -> dict[str, Any]:
    """Start the responder, the node and the load generator (each appended to ``started`` as
    it is, for the caller to stop) and run the phases."""
    answers = str(work / "answers.pickle")
    started.append(start([*me, "--role", "responder", str(responder_port), answers], "READY", 1))
    profile = os.environ.get("BENCH_PKI_PROFILE")  # a cProfile output file for the node
    python = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    serve = [*python, "-m", "csms.cli", "serve", "--config", str(config)]
    node = start(serve, "running", 0, env)
    started.append(node)
    load_args = [str(ocpp_port), str(work / "load.json"), str(args.concurrency)]
    load = start([*me, "--role", "load", *load_args], "ready", 1)
    started.append(load)

    def phase(command: str) -> dict[str, Any]:
        assert load.stdin is not None
        assert load.stdout is not None
        cpu_before = cpu_seconds(node.pid)
        load.stdin.write(command + "\n")
        load.stdin.flush()
        result = json.loads(load.stdout.readline())
        result["node_cpu_s"] = cpu_seconds(node.pid) - cpu_before
        return dict(result)

    results: dict[str, Any] = {"stations": args.stations, "concurrency": args.concurrency}
    results["authorize_cold"] = phase("authorize")
    results["authorize_warm"] = [phase("authorize") for _ in range(args.warm_rounds)]
    results["renewal"] = phase("renewal")
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    return results


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="csms-bench-pki-"))
    responder_port, ocpp_port = free_port(), free_port()
    ocsp_url = f"http://127.0.0.1:{responder_port}/ocsp"
    paths = build_pki(work, args.stations, ocsp_url)
    server, url = setup_database(str(work / "pg"), args.stations)
    config = work / "csms.toml"
    pem = "\n".join(f'{k} = "{v}"' for k, v in paths.items())
    config.write_text(
        f'[ocpp]\nhost = "127.0.0.1"\nport = {ocpp_port}\nheartbeat_interval = 3600\n'
        f'response_timeout = 30\n[http]\nhost = "127.0.0.1"\nport = {free_port()}\n'
        '[log]\nlevel = "WARNING"\n[v2g.ccee]\nfetch = false\n'
        f'[certificates]\norganisation = "{ORGANISATION}"\nocsp_responders = ["{ocsp_url}"]\n'
        f"renew_interval_s = 0\n{pem}\n"
    )
    env = {**os.environ, "DATABASE_URL": url}
    me = [sys.executable, __file__]
    started: list[Any] = []
    try:
        return run_phases(args, work, env, me, responder_port, ocpp_port, config, started)
    finally:
        for proc in reversed(started):  # the load, the node, the responder
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=("responder", "load"))
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--warm-rounds", type=int, default=3)
    parser.add_argument(
        "--concurrency", type=int, default=200, help="CALLs outstanding at once, over all stations"
    )
    parser.add_argument("--json", type=Path)
    args, rest = parser.parse_known_args()
    if args.role == "responder":
        run_responder(int(rest[0]), rest[1])
        return
    if args.role == "load":
        asyncio.run(run_load(int(rest[0]), rest[1], int(rest[2])))
        return
    results = orchestrate(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
