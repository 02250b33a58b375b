"""The ``csms`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import trio

from csms import __version__, logs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csms", description="OCPP 2.0.1 / 2.1 Charging Station Management System"
    )
    parser.add_argument("--version", action="version", version=f"csms {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run a CSMS node")
    serve.add_argument("--node-id", default="node-1", help="name of this node (default node-1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_level, json=args.log_json)
    if args.command == "serve":
        from csms.actors.node import NodeSettings, serve

        trio.run(serve, NodeSettings(node_id=args.node_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
