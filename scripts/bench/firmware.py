"""Firmware campaign benchmark: a campaign across 2,000 simulated stations on one node, beside
the node's (b)/(c) floor in the same run.

    python scripts/bench/firmware.py [--fleet 2000] [--concurrent 200] [--step 0.5]
                                     [--stations 200] [--seconds 10] [--rounds 1] [--json FILE]

One csms node (``csms serve``, pinned to CPU 0) on an embedded PostgreSQL set up here (the
``stations.py`` stations plus ``--fleet`` firmware stations); the fleet is ``--fleet``
simulator stations (``csms.simulator``, one trio process pinned to CPU 1,
``firmware_fleet.py``) that download the image from the node's firmware store over HTTP, walk the
status sequence one step per ``--step`` seconds, reboot and boot the new version. In order:

1. (b) and (c) of ``stations.py`` against the node before the fleet connects: the floor.
2. The fleet connects and boots; an image (``--image-kib``) is uploaded through REST.
3. Campaign 1 (``--concurrent`` at once, every fleet station): jobs per minute (stations
   installed over the campaign's wall time), FirmwareStatusNotifications per second, the
   node's CPU (cores) and PostgreSQL's, and the node's RSS growth while ``--concurrent`` jobs
   run over the RSS before, per job (an upper bound of a job actor's memory: the job's HTTP
   transfer and the stations' extra messages are in it too).
4. Campaign 2 (the next version, the same stations) with (b) and (c) run while it goes: their
   change against the floor.

The figures and the verdicts against the target (under 10 KiB per job actor) are
printed; ``--json`` keeps them. The machine's two CPUs are shared: the fleet and the (b)/(c)
load generators both run on CPU 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _beside(name: str) -> Any:
    sys.path.append(str(HERE))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = [p for p in sys.path if p != str(HERE)]


stations = _beside("stations")
v2g = _beside("v2g")
firmware_fleet = _beside("firmware_fleet")
Fleet, fleet_id = firmware_fleet.Fleet, firmware_fleet.fleet_id

TARGET_KIB = 10.0
ADMIN_TOKEN = "bench-firmware-admin-token-0123456789"
HEADER = b"CSMS-SIMULATOR-FIRMWARE "


# --- the node ---------------------------------------------------------------------------------


class Node(stations.Server):
    """``csms serve`` with its HTTP port known and the firmware store in the run's directory."""

    def __init__(self, args: argparse.Namespace, url: str, store: str) -> None:
        self.kind = "csms"
        self.port = stations.free_port()
        self.http_port = stations.free_port()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=url,
            CSMS_ADMIN_TOKEN=ADMIN_TOKEN,
            CSMS_OCPP__HOST="127.0.0.1",
            CSMS_HTTP__HOST="127.0.0.1",
            CSMS_LOG__LEVEL="WARNING",
            CSMS_OCPP__HEARTBEAT_INTERVAL="3600",
            CSMS_OCPP__MAX_CONNECTIONS=str(args.fleet + args.stations + 1000),
            CSMS_FIRMWARE__STORE_DIR=store,
            CSMS_FIRMWARE__CAMPAIGN_TICK_S="1.0",
            CSMS_FIRMWARE__TIMEOUT_S="120",  # a station lost mid-update fails, not stalls
        )
        cmd = [sys.executable, "-m", "csms.cli", "serve", "--ocpp-port", str(self.port)]
        cmd += ["--http-port", str(self.http_port)]
        cpu = None if args.no_pin else stations.SERVER_CPU
        self.proc = subprocess.Popen(
            cmd,
            cwd=stations.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=stations._preexec(cpu),
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "running" in line:
                return
        raise RuntimeError("the node did not start")


def api(node: Node) -> Any:
    import httpx

    return httpx.Client(
        base_url=f"http://127.0.0.1:{node.http_port}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )


def campaign(node: Node, fleet: Fleet, args: argparse.Namespace, version: str) -> dict[str, Any]:
    """Upload ``version``'s image, run the campaign to its end, and measure it."""
    image = HEADER + version.encode() + b"\n" + os.urandom(args.image_kib * 1024)
    with api(node) as client:
        uploaded = client.post("/api/v1/firmware/images", params={"name": version}, content=image)
        uploaded.raise_for_status()
        url = uploaded.json()["url"]
        before_fsn = fleet.dump()["fsn"]
        rss0, cpu0, pg0 = node.rss(), node.cpu(), stations.postgres_cpu(args.pg_dir)
        fleet0, threads0 = fleet.cpu(), node.thread_cpu()
        t0 = time.monotonic()
        created = client.post(
            "/api/v1/firmware/campaigns",
            json={
                "name": f"to {version}",
                "location": url,
                "maxConcurrent": args.concurrent,
                "targetVersion": version,
                "stations": [{"id": fleet_id(i)} for i in range(args.fleet)],
            },
        )
        created.raise_for_status()
        path = f"/api/v1/firmware/campaigns/{created.json()['id']}"
        peak_rss, full_rss = rss0, []
        shown = t0
        while True:
            body = client.get(path).json()
            if time.monotonic() - shown > 5:
                shown = time.monotonic()
                print(f"  {shown - t0:.0f} s: {body['counts']}", file=sys.stderr, flush=True)
            rss = node.rss()
            peak_rss = max(peak_rss, rss)
            if body["counts"]["running"] >= args.concurrent:
                full_rss.append(rss)
            if body["state"] != "running":
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
    cpu, pg = node.cpu() - cpu0, stations.postgres_cpu(args.pg_dir) - pg0
    threads = {k: v - threads0.get(k, 0.0) for k, v in node.thread_cpu().items()}
    dump = fleet.dump()
    counts = body["counts"]
    growth = (max(full_rss) if full_rss else peak_rss) - rss0
    return {
        "state": body["state"],
        "counts": counts,
        "seconds": elapsed,
        "jobs_per_min": 60 * (counts["installed"] + counts["failed"]) / elapsed,
        "status_per_s": (dump["fsn"] - before_fsn) / elapsed,
        "node_cores": cpu / elapsed,
        "postgres_cores": pg / elapsed,
        "fleet_cores": (fleet.cpu() - fleet0) / elapsed,
        # the node's CPU by thread: its event loop ("python"), database and file threads
        "node_thread_cores": {k: round(v / elapsed, 3) for k, v in threads.items() if v > 0},
        "rss_growth_kib_per_job": growth / 1024 / args.concurrent,
        "versions": dump["versions"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from csms.storage import connect
    from csms.transport import hash_password

    out: dict[str, Any] = {"machine": v2g.machine(), "args": {**vars(args)}}
    with tempfile.TemporaryDirectory(prefix="csms-bench-fw-") as tmp:
        args.pg_dir = tmp
        pg, url = stations.setup_database(argparse.Namespace(idle=0, stations=args.stations), tmp)
        try:
            hashed = hash_password(stations.PASSWORD)
            with connect(url) as conn, conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO stations (id, password_hash, registration_status)"
                    " VALUES (%s, %s, 'Accepted')",
                    [(fleet_id(i), hashed) for i in range(args.fleet)],
                )
                conn.commit()
            node = Node(args, url, f"{tmp}/store")
            try:
                floor = {m: v2g.station_figures(node, m, args, tmp) for m in ("heartbeat", "meter")}
                out["floor"] = floor
                print(
                    f"floor: (b) {floor['heartbeat']['msg_per_s']:.0f}/s "
                    f"(c) {floor['meter']['msg_per_s']:.0f}/s",
                    flush=True,
                )
                fleet = Fleet(args, node.port)
                try:
                    rss_fleet = node.rss()
                    out["rss_with_fleet_mib"] = rss_fleet / 2**20
                    first = campaign(node, fleet, args, "2.0")
                    out["campaign"] = first
                    print(f"campaign 1: {json.dumps(first)}", flush=True)
                    # the second campaign with (b) and (c) beside it
                    import threading

                    during: dict[str, Any] = {}
                    result: dict[str, Any] = {}

                    def load() -> None:
                        time.sleep(1.0)  # the campaign under way
                        for m in ("heartbeat", "meter"):
                            during[m] = v2g.station_figures(node, m, args, tmp)

                    loader = threading.Thread(target=load)
                    loader.start()
                    result.update(campaign(node, fleet, args, "3.0"))
                    loader.join()
                    out["campaign_with_load"] = result
                    out["during"] = during
                    out["impact"] = {
                        m: during[m]["msg_per_s"] / floor[m]["msg_per_s"] - 1 for m in during
                    }
                    # whose CPU the drop is: the node's (busy) or the load generator's (starved)
                    out["cores"] = {
                        f"{m} {when}": {
                            "node": figures[m]["server_cpu_us"] * figures[m]["msg_per_s"] / 1e6,
                            "loader": figures[m]["loader_cores"],
                        }
                        for when, figures in (("floor", floor), ("during", during))
                        for m in figures
                    }
                    print(f"cores: {json.dumps(out['cores'])}", flush=True)
                    print(f"campaign 2 (with (b)/(c)): {json.dumps(result)}", flush=True)
                    print(f"(b)/(c) during: {json.dumps(out['impact'])}", flush=True)
                finally:
                    fleet.stop()
            finally:
                node.stop()
            memory = subprocess.run(
                [
                    sys.executable,
                    firmware_fleet.__file__,
                    "job-memory",
                    url,
                    str(args.concurrent * 5),
                ],
                cwd=stations.ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            out["job_memory"] = json.loads(memory.stdout.strip().splitlines()[-1])
            print(f"job actors: {json.dumps(out['job_memory'])}", flush=True)
        finally:
            pg.stop()
    kib = out["job_memory"]["kib_per_job"]
    out["verdict"] = {"memory_per_job_under_10_kib": kib < TARGET_KIB}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fleet", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--step", type=float, default=0.5, help="seconds per firmware status")
    parser.add_argument("--image-kib", type=int, default=256)
    parser.add_argument("--stations", type=int, default=200, help="(b)/(c) stations")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    out = run(args)
    print(json.dumps(out["verdict"]))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
