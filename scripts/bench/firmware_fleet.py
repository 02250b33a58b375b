"""The fleet of ``scripts/bench/firmware.py`` and its measure of a job actor's memory, each run
as a process of its own.

    python scripts/bench/firmware_fleet.py fleet PORT COUNT STEP
    python scripts/bench/firmware_fleet.py job-memory DATABASE_URL COUNT

``fleet``: ``COUNT`` simulator stations (``csms.simulator``, one trio process) that download
the image from ``location`` over HTTP, walk the firmware status sequence one step per ``STEP``
seconds, reboot and boot the new version; ``READY`` once all are online, then a JSON line per
``dump`` read on stdin. ``job-memory``: the traced memory of a node resuming ``COUNT`` active
jobs over one with none, per job. ``Fleet`` starts and talks to the first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# stations.py beside this file, after the standard library (``http.py`` here must not shadow it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import stations  # noqa: E402

sys.path[:] = [p for p in sys.path if p != str(_HERE)]


def fleet_id(i: int) -> str:
    return f"FWB{i:05d}"


def run_fleet(port: int, count: int, step: float) -> None:
    """``count`` simulated stations; READY once all are online, then per ``dump`` a JSON line
    with the firmware statuses they sent."""
    import trio

    from csms import logs
    from csms.runtime import DynamicSupervisor
    from csms.simulator import ReconnectBackoff, StationConfig, StationState, station_spec

    logs.configure("ERROR", json=False)

    async def main() -> None:
        supervisor = DynamicSupervisor(name="fleet")
        states = []
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            for i in range(count):
                config = StationConfig(
                    station_id=fleet_id(i),
                    server=f"ws://127.0.0.1:{port}/ocpp",
                    password=stations.PASSWORD,
                    meter_interval=3600.0,
                    heartbeat_interval=3600.0,
                    backoff=ReconnectBackoff(wait_minimum=0.2, random_range=0.5, repeat_times=3),
                    firmware_step=step,
                    response_timeout=60.0,
                    validate=False,
                )
                state = StationState(config)
                states.append(state)
                supervisor.start_child_nowait(station_spec(state), name=config.station_id)
                if i % 50 == 49:
                    await trio.sleep(0.25)  # a ramp of 200 stations/s, not a storm
            while sum(s.online for s in states) < count:  # noqa: ASYNC110 (a poll of many)
                await trio.sleep(0.2)
            print("READY", flush=True)
            stdin = trio.lowlevel.FdStream(os.dup(0))
            buffered = b""
            while True:
                data = await stdin.receive_some()
                if not data:
                    break
                buffered += data
                while b"\n" in buffered:
                    word, _, buffered = buffered.partition(b"\n")
                    if word.strip() == b"dump":
                        sent = sum(s.sent["FirmwareStatusNotification"] for s in states)
                        versions: dict[str, int] = {}
                        for s in states:
                            versions[s.model.firmware_version] = (
                                versions.get(s.model.firmware_version, 0) + 1
                            )
                        boots = sum(s.boots for s in states)
                        print(json.dumps({"fsn": sent, "versions": versions, "boots": boots}))
                        sys.stdout.flush()
            nursery.cancel_scope.cancel()

    trio.run(main)


def job_memory(url: str, count: int) -> None:
    """Memory per firmware job actor: ``count`` active jobs in the database, resumed by the
    node's ``firmware`` actor at its start, under tracemalloc; the traced memory of a node with
    them over one without (after a full collection), per job. Prints one JSON line."""
    import gc
    import tracemalloc

    import trio

    from csms import logs
    from csms.config import load_settings
    from csms.node import open_node
    from csms.storage import connect

    logs.configure("ERROR", json=False)
    settings = load_settings(
        env={},
        overrides={
            "database.url": url,
            "ocpp.host": "127.0.0.1",
            "ocpp.port": 0,
            "firmware.tick_interval_s": 3600.0,
            "v2g.ccee.fetch": False,
        },
    )

    def rows(n: int) -> None:
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM firmware_updates")
            cur.executemany(
                "INSERT INTO firmware_updates (station_id, request_id, location, retrieve_at,"
                " requested_by, status, state, phase, status_at, last_activity_at)"
                " VALUES (%s, 1, 'http://fw/x.bin', now(), 'bench', 'Downloading', 'active',"
                " 'running', now(), now())",
                [(fleet_id(i),) for i in range(n)],
            )
            conn.commit()

    async def traced(n: int) -> int:
        rows(n)
        async with open_node(settings):
            await trio.sleep(3.0)  # the jobs resumed and settled (a script, not a test)
            gc.collect()
            size = tracemalloc.get_traced_memory()[0]
        return size

    tracemalloc.start()
    without = trio.run(traced, 0)
    with_jobs = trio.run(traced, count)
    print(json.dumps({"jobs": count, "kib_per_job": (with_jobs - without) / 1024 / count}))


class Fleet:
    def __init__(self, args: argparse.Namespace, port: int) -> None:
        cpu = None if args.no_pin else stations.LOADER_CPU
        cmd = [sys.executable, __file__, "fleet", str(port), str(args.fleet)]
        cmd += [str(args.step)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=stations.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=stations._preexec(cpu),
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("READY"):
                return
        raise RuntimeError("the fleet ended early")

    def dump(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("dump\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return result

    def cpu(self) -> float:
        """CPU seconds of the fleet's process."""
        return float(stations._cpu_seconds(self.proc.pid))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main() -> None:
    if sys.argv[1] == "job-memory":
        job_memory(sys.argv[2], int(sys.argv[3]))
    else:
        run_fleet(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))


if __name__ == "__main__":
    main()
