"""``csms soak``: registered on the main parser by `add_command`, run by `run`."""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import tempfile
from typing import Any

import orjson
import trio

from ._faults import FAULTS

__all__ = ["add_command", "run"]


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    soak = commands.add_parser(
        "soak",
        parents=[common],
        help="run a fleet against a node while faults are injected, then check the ledger",
    )
    soak.add_argument("--stations", type=int, default=200)
    soak.add_argument("--duration", type=float, default=60.0, help="seconds under load")
    soak.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"comma-separated, in schedule order, from {', '.join(FAULTS)} ('' for none;"
        " node-kill with --nodes 2)",
    )
    soak.add_argument("--rounds", type=int, default=1, help="each fault at least this often")
    soak.add_argument("--fault-interval", type=float, default=5.0, help="quiet seconds between")
    soak.add_argument("--outage", type=float, default=3.0, help="seconds a service is down")
    soak.add_argument("--no-nats", action="store_true", help="run the node without the mirror")
    soak.add_argument("--scenario", default="transactions", choices=["transactions", "mixed"])
    soak.add_argument("--ramp", type=float, default=200.0, help="stations started per second")
    soak.add_argument("--meter-interval", type=float, default=5.0)
    soak.add_argument("--charge-seconds", type=float, default=20.0)
    soak.add_argument(
        "--commands-per-s",
        type=float,
        default=1.0,
        help="REST commands (TriggerMessage, ClearCache, GetVariables) to random stations",
    )
    soak.add_argument(
        "--v2g-share",
        type=float,
        default=0.0,
        help="fraction of the stations that are OCPP 2.1 with a V2X EV, discharges asked",
    )
    soak.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="csms serve processes on the same PostgreSQL and NATS (2: the node-kill fault)",
    )
    soak.add_argument(
        "--workers",
        type=int,
        help="fleet processes (default min(CPUs, stations/500); below 2: in the soak's process)",
    )
    soak.add_argument("--work-dir", type=pathlib.Path, help="PostgreSQL, NATS and node files")
    soak.add_argument("--json", type=pathlib.Path, help="write the report here too")
    soak.add_argument(
        "--fuzz", type=int, metavar="FRAMES", help="run the wire fuzzer instead (frames)"
    )
    soak.add_argument("--seed", type=int, default=0, help="the fuzzer's or the commands' seed")


def run(args: argparse.Namespace) -> int:
    """Carry out ``csms soak``; exit status 0 when nothing was lost and all recovered."""
    if args.stations < 1 or args.duration < 0 or args.rounds < 0:
        print("csms: --stations must be positive, --duration, --rounds >= 0", file=sys.stderr)
        return 2
    if args.nodes < 1 or (args.nodes > 1 and args.no_nats):
        print("csms: --nodes must be positive; more than one needs NATS", file=sys.stderr)
        return 2
    if not 0 <= args.v2g_share <= 1:
        print("csms: --v2g-share is a fraction, from 0 to 1", file=sys.stderr)
        return 2
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        print(f"csms: unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})", file=sys.stderr)
        return 2
    # A station's every (re)connection is an INFO line: thousands at each fault drown the
    # soak's own progress lines.
    logging.getLogger("csms.simulator").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per command asked
    with tempfile.TemporaryDirectory(prefix="csms-soak-") as scratch:
        work = args.work_dir or pathlib.Path(scratch)
        if args.fuzz is not None:
            report = trio.run(_fuzz, args, work)
        else:
            report = trio.run(_soak, args, faults, work)
    text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
    if args.json is not None:
        args.json.write_text(text)
    print(text)
    return 0 if report["ok"] else 1


async def _soak(args: argparse.Namespace, faults: tuple[str, ...], work: pathlib.Path) -> Any:
    from ._run import SoakOptions, format_report, run_soak

    options = SoakOptions(
        work_dir=work,
        stations=args.stations,
        duration=args.duration,
        faults=faults,
        rounds=args.rounds,
        fault_interval=args.fault_interval,
        outage=args.outage,
        nats=not args.no_nats,
        scenario=args.scenario,
        ramp=args.ramp,
        meter_interval=args.meter_interval,
        charge_seconds=args.charge_seconds,
        workers=args.workers,
        commands_per_s=args.commands_per_s,
        seed=args.seed,
        v2g_share=args.v2g_share,
        nodes=args.nodes,
    )
    report = await run_soak(options)
    print(format_report(report), file=sys.stderr)
    return report


async def _fuzz(args: argparse.Namespace, work: pathlib.Path) -> Any:
    from ._fuzz import FuzzOptions
    from ._fuzz_run import run_fuzz_against_node

    return await run_fuzz_against_node(FuzzOptions(frames=args.fuzz, seed=args.seed), work)
