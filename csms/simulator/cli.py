"""``csms simulate`` and ``csms loadtest``: registered on the main parser by `add_commands`,
carried out by `run`."""

from __future__ import annotations

import argparse
import logging
import math
import os
import subprocess
import sys
from typing import Any

import orjson
import trio

from csms.protocol import Version
from csms.runtime import Rejected

from ._ev import BPT_MODES
from ._loadtest import SCENARIOS, LoadTestOptions, RegistrationError, register_stations
from ._stats import LoadStats, format_table

__all__ = ["add_commands", "run"]

log = logging.getLogger("csms.simulator")

ADMIN_TOKEN_ENV = "CSMS_ADMIN_TOKEN"
_VERSIONS = {"2.0.1": Version.V201, "2.1": Version.V21}


def add_commands(subparsers: Any, common_parent: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` and ``loadtest`` subcommands to the ``csms`` parser."""
    sim = subparsers.add_parser(
        "simulate", parents=[common_parent], help="run a simulated charge point"
    )
    sim.add_argument("--id", required=True, help="station id")
    sim.add_argument("--server", default="ws://localhost:9000/ocpp", help="CSMS OCPP URL prefix")
    sim.add_argument("--password", help="Basic-auth password (security profile 1)")
    sim.add_argument("--version", choices=sorted(_VERSIONS), default="2.0.1", dest="ocpp_version")
    sim.add_argument("--evses", type=int, default=1, help="number of EVSEs (one connector each)")
    sim.add_argument(
        "--v2g",
        action="store_true",
        help="a V2X EV: authorizes, announces its ISO 15118 needs, follows setpoints, discharges",
    )
    sim.add_argument("--soc", type=float, default=50.0, help="EV state of charge, percent")
    sim.add_argument("--battery", type=float, default=60.0, help="EV battery capacity, kWh")
    sim.add_argument("--discharge-power", type=float, default=11.0, help="max discharge, kW")
    sim.add_argument("--charge-power", type=float, default=22.0, help="max charge, kW")
    sim.add_argument("--min-soc", type=float, default=10.0, help="no discharge below, percent")
    sim.add_argument("--target-soc", type=float, default=80.0, help="wanted at departure")
    sim.add_argument("--departure-hours", type=float, default=8.0, help="after plug-in")
    sim.add_argument("--bpt-mode", choices=sorted(BPT_MODES), default="AC_BPT")
    sim.add_argument(
        "--control-mode", choices=("ScheduledControl", "DynamicControl"), default="ScheduledControl"
    )
    sim.add_argument(
        "--charge-only-first",
        action="store_true",
        help="start charge-only even when V2X is allowed (Q02): discharge after renegotiation",
    )
    sim.add_argument("--id-token", default="SIMULATED", help="the EV driver's id token")
    sim.add_argument("--token-type", default="Central", help="its IdTokenEnumType")
    sim.add_argument("--ev-id", help="the EV's EVCCID (sent with the id token)")
    sim.add_argument(
        "--operation-modes",
        default="ChargingOnly,CentralSetpoint",
        help="V2XChargingCtrlr.SupportedOperationModes (comma-separated)",
    )
    sim.add_argument(
        "--plug-in", action="store_true", help="start a transaction on connector 1 once online"
    )
    sim.add_argument(
        "--meter-interval", type=float, default=10.0, help="seconds between meter values"
    )
    sim.add_argument("--heartbeat-interval", type=float, help="seconds (default: the CSMS's)")
    sim.add_argument("--interactive", action="store_true", help="read commands from stdin")

    load = subparsers.add_parser(
        "loadtest", parents=[common_parent], help="run a fleet of simulated stations"
    )
    load.add_argument("--server", default="ws://localhost:9000/ocpp", help="CSMS OCPP URL prefix")
    load.add_argument("--api", default="http://127.0.0.1:8080", help="REST API (for --register)")
    load.add_argument("--stations", type=int, default=100)
    load.add_argument("--ramp", type=float, default=100.0, help="stations started per second")
    load.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds measured once every station booted and sent its statuses",
    )
    load.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    load.add_argument(
        "--register", action="store_true", help=f"register via the API ({ADMIN_TOKEN_ENV})"
    )
    load.add_argument("--password", default="loadtest-password-0123", help="stations' password")
    load.add_argument("--json", metavar="FILE", help="write the report as JSON")
    load.add_argument("--workers", type=int, default=1, help="processes sharing the fleet")
    load.add_argument("--version", choices=sorted(_VERSIONS), default="2.0.1", dest="ocpp_version")
    load.add_argument("--id-prefix", default="LT")
    load.add_argument("--heartbeat-interval", type=float, default=60.0)
    load.add_argument("--meter-interval", type=float, default=15.0)
    load.add_argument("--charge-seconds", type=float, default=60.0)
    load.add_argument("--idle-seconds", type=float, default=30.0)
    load.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    load.add_argument("--worker-mode", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Carry out ``simulate`` or ``loadtest``; the exit status."""
    if args.command == "simulate":
        return trio.run(simulate, args)
    return trio.run(loadtest, args)


# --- simulate ----------------------------------------------------------------------------


async def simulate(args: argparse.Namespace) -> int:
    from . import Ev, StationConfig, open_simulator, run_prompt
    from ._commands import StartCharging

    config = StationConfig(
        station_id=args.id,
        server=args.server,
        password=args.password,
        version=_VERSIONS[args.ocpp_version],
        evses=args.evses,
        ev=Ev(
            soc=args.soc,
            battery_kwh=args.battery,
            v2g=args.v2g,
            discharge_kw=args.discharge_power,
            charge_kw=args.charge_power,
            min_soc=args.min_soc,
            target_soc=args.target_soc,
            departure_hours=args.departure_hours,
            request_bpt=not args.charge_only_first,
            bpt_mode=args.bpt_mode,
            control_mode=args.control_mode,
            id_token=args.id_token,
            token_type=args.token_type,
            ev_id=args.ev_id,
        ),
        operation_modes=tuple(m.strip() for m in args.operation_modes.split(",") if m.strip()),
        meter_interval=args.meter_interval,
        heartbeat_interval=args.heartbeat_interval,
    )
    async with open_simulator(config) as sim:
        if args.plug_in:
            await sim.state.wait_for(lambda: sim.state.online)
            try:
                print(await sim.ref.ask(StartCharging(1), timeout=None), file=sys.stderr)
            except Rejected as exc:
                print(f"csms: cannot plug in: {exc}", file=sys.stderr)
        if not args.interactive:
            await trio.sleep_forever()

        async def write(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        await run_prompt(sim.ref, _stdin_lines(), write)
        state = sim.state
        with trio.move_on_after(5.0):  # let the CSMS acknowledge what the session produced
            await state.wait_for(lambda: not state.queue or not state.online)
    return 0


async def _stdin_lines() -> Any:
    async for line in trio.wrap_file(sys.stdin):
        yield line


# --- loadtest ----------------------------------------------------------------------------


def _options(args: argparse.Namespace, *, first: int, stations: int) -> LoadTestOptions:
    return LoadTestOptions(
        server=args.server,
        stations=stations,
        password=args.password,
        api=args.api,
        ramp=args.ramp,
        duration=args.duration,
        scenario=args.scenario,
        first=first,
        id_prefix=args.id_prefix,
        version=_VERSIONS[args.ocpp_version],
        heartbeat_interval=args.heartbeat_interval,
        meter_interval=args.meter_interval,
        charge_seconds=args.charge_seconds,
        idle_seconds=args.idle_seconds,
    )


def _progress_line(p: dict[str, Any]) -> None:
    sys.stderr.write(
        f"\r[{p['elapsed']:>7.1f}s] started {p['started']}/{p['stations']}  "
        f"connected {p['connected']}  msg/s {p['per_second']:.0f}  errors {p['errors']}   "
    )
    sys.stderr.flush()


async def loadtest(args: argparse.Namespace) -> int:
    from ._loadtest import run_loadtest

    if args.stations < 1 or args.ramp <= 0 or args.duration < 0 or args.workers < 1:
        print("csms: --stations, --ramp and --workers must be positive", file=sys.stderr)
        return 2
    if args.worker_mode:  # one slice of a multi-process run: JSON lines on stdout
        options = _options(args, first=args.first, stations=args.stations)
        stats = LoadStats()

        def emit(p: dict[str, Any]) -> None:
            sys.stdout.write(orjson.dumps({"progress": p}).decode() + "\n")
            sys.stdout.flush()

        report = await run_loadtest(options, progress=emit, stats=stats)
        sys.stdout.write(
            orjson.dumps({"stats": stats.dump(), "seconds": report["seconds"]}).decode()
        )
        sys.stdout.write("\n")
        return 0
    options = _options(args, first=args.first, stations=args.stations)
    if args.register:
        token = os.environ.get(ADMIN_TOKEN_ENV)
        if not token:
            print(f"csms: --register needs an admin token in {ADMIN_TOKEN_ENV}", file=sys.stderr)
            return 2
        try:
            created = await register_stations(options, token)
        except (RegistrationError, OSError) as exc:
            print(f"csms: {exc}", file=sys.stderr)
            return 1
        print(f"registered {created} stations", file=sys.stderr)
    if args.workers == 1:
        report = await run_loadtest(options, progress=_progress_line)
    else:
        report = await _run_workers(args)
    sys.stderr.write("\n")
    print(format_table(report))
    if args.json:
        await trio.Path(args.json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return 0 if report["errors"] == 0 else 1


async def _run_workers(args: argparse.Namespace) -> dict[str, Any]:
    """Split the fleet over ``--workers`` processes and merge their figures."""
    per = math.ceil(args.stations / args.workers)
    slices = [
        (args.first + i * per, min(per, args.stations - i * per))
        for i in range(args.workers)
        if args.stations - i * per > 0
    ]
    progress: dict[int, dict[str, Any]] = {}
    total = LoadStats()
    seconds: list[float] = []

    async def worker(number: int, first: int, count: int) -> None:
        argv = [sys.executable, "-m", "csms.simulator.worker", *_worker_argv(args, first, count)]
        proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            buffer = b""
            async for chunk in proc.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    _worker_line(number, orjson.loads(line))
            if buffer.strip():
                _worker_line(number, orjson.loads(buffer))
        finally:
            with trio.CancelScope(shield=True):
                if proc.returncode is None:
                    proc.terminate()
                await proc.wait()

    def _worker_line(number: int, message: dict[str, Any]) -> None:
        if "progress" in message:
            progress[number] = message["progress"]
            _progress_line(
                {
                    "elapsed": max(p["elapsed"] for p in progress.values()),
                    "started": sum(p["started"] for p in progress.values()),
                    "stations": args.stations,
                    "connected": sum(p["connected"] for p in progress.values()),
                    "per_second": sum(p["per_second"] for p in progress.values()),
                    "errors": sum(p["errors"] for p in progress.values()),
                }
            )
        else:
            total.merge_dump(message["stats"])
            seconds.append(float(message["seconds"]))

    async with trio.open_nursery() as nursery:
        for number, (first, count) in enumerate(slices):
            nursery.start_soon(worker, number, first, count)
    return total.report(
        seconds=max(seconds, default=0.0),
        stations=args.stations,
        scenario=args.scenario,
        ramp=args.ramp,
        duration=args.duration,
        workers=len(slices),
    )


def _worker_argv(args: argparse.Namespace, first: int, count: int) -> list[str]:
    ramp = args.ramp / args.workers
    return [
        "--worker-mode",
        "--server", args.server,
        "--stations", str(count),
        "--first", str(first),
        "--ramp", f"{ramp:g}",
        "--duration", f"{args.duration + (args.stations / args.ramp) - count / ramp:g}",
        "--scenario", args.scenario,
        "--password", args.password,
        "--version", args.ocpp_version,
        "--id-prefix", args.id_prefix,
        "--heartbeat-interval", f"{args.heartbeat_interval:g}",
        "--meter-interval", f"{args.meter_interval:g}",
        "--charge-seconds", f"{args.charge_seconds:g}",
        "--idle-seconds", f"{args.idle_seconds:g}",
        "--log-level", "WARNING",
    ]  # fmt: skip
