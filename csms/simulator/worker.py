"""Entry point of one load-test worker process (``python -m csms.simulator.worker ...``)."""

from __future__ import annotations

import argparse
import sys

from csms import logs

from .cli import add_commands, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="csms-loadtest-worker")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default="WARNING")
    commands = parser.add_subparsers(dest="command", required=True)
    add_commands(commands, common)
    args = parser.parse_args(["loadtest", *(sys.argv[1:] if argv is None else argv)])
    logs.configure(args.log_level, json=False)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
