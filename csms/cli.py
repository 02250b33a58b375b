"""The ``csms`` command line."""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

import trio

from csms import __version__, logs
from csms.config import ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csms", description="OCPP 2.0.1 / 2.1 Charging Station Management System"
    )
    parser.add_argument("--version", action="version", version=f"csms {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run a CSMS node")
    serve.add_argument("--config", type=pathlib.Path, help="TOML settings file")
    serve.add_argument("--node-id", help="name of this node (default node-1)")
    serve.add_argument("--ocpp-port", type=int, help="OCPP WebSocket port (default 9000)")
    serve.add_argument("--http-port", type=int, help="REST API port (default 8080)")
    serve.add_argument("--data-dir", help="embedded PostgreSQL data directory (default .csms)")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument("--log-json", action="store_true", default=None, help="JSON log lines")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config,
        overrides={
            "node.id": args.node_id,
            "ocpp.port": args.ocpp_port,
            "http.port": args.http_port,
            "database.data_dir": args.data_dir,
            "log.level": args.log_level,
            "log.json": args.log_json,
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"csms: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log.level, json=settings.log.json)
    if args.command == "serve":
        from csms.actors.node import serve

        trio.run(serve, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
