"""The ``csms`` command line."""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable, Sequence

import trio

from csms import __version__, logs
from csms.config import ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csms", description="OCPP 2.0.1 / 2.1 Charging Station Management System"
    )
    parser.add_argument("--version", action="version", version=f"csms {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=pathlib.Path, help="TOML settings file")
    common.add_argument("--data-dir", help="embedded PostgreSQL data directory (default .csms)")
    common.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    common.add_argument("--log-json", action="store_true", default=None, help="JSON log lines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run a CSMS node")
    serve.add_argument("--node-id", help="name of this node (default node-1)")
    serve.add_argument("--ocpp-port", type=int, help="OCPP WebSocket port (default 9000)")
    serve.add_argument("--http-port", type=int, help="REST API port (default 8080)")
    serve.add_argument(
        "--nats",
        metavar="embedded|URL",
        help="NATS for the event mirror: 'embedded' starts nats-server in the data directory, "
        "or a server's URL (default: NATS_URL, else off)",
    )

    commands.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    commands.add_parser(
        "cluster", parents=[common], help="list the nodes (NATS clusters): stations, liveness"
    )

    station = commands.add_parser("station", help="register and list charge points")
    station_commands = station.add_subparsers(dest="station_command", required=True)
    add = station_commands.add_parser("add", parents=[common], help="register a station")
    add.add_argument("id", help="station id (the last segment of its OCPP URL)")
    add.add_argument("--password", help="Basic-auth password, 16-40 characters (profiles 1, 2)")
    add.add_argument("--security-profile", type=int, choices=[1, 2, 3], default=1)
    add.add_argument(
        "--status",
        choices=["Accepted", "Pending", "Rejected"],
        default="Accepted",
        help="registration status answered to its BootNotification",
    )
    station_commands.add_parser("list", parents=[common], help="list registered stations")

    token = commands.add_parser("token", help="REST API bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", parents=[common], help="create a token")
    create.add_argument("--role", required=True, choices=["admin", "operator", "viewer"])
    create.add_argument("--name", required=True, help="a name to revoke it by")
    revoke = token_commands.add_parser("revoke", parents=[common], help="revoke a token")
    revoke.add_argument("name")

    from csms.simulator.cli import add_commands

    add_commands(commands, common)
    from csms.soak.cli import add_command as add_soak_command

    add_soak_command(commands, common)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config,
        overrides={
            "node.id": getattr(args, "node_id", None),
            "ocpp.port": getattr(args, "ocpp_port", None),
            "http.port": getattr(args, "http_port", None),
            **_nats_overrides(getattr(args, "nats", None)),
            "database.data_dir": args.data_dir,
            "log.level": args.log_level,
            "log.json": args.log_json,
        },
    )


def _nats_overrides(option: str | None) -> dict[str, object]:
    if option is None:
        return {}
    if option == "embedded":
        return {"nats.embedded": True, "nats.url": ""}
    return {"nats.url": option}


def _with_database(settings: Settings, work: Callable[[str], int]) -> int:
    """Run ``work(url)`` against the migrated database (the embedded one started for it)."""
    from csms.storage import database_server, migrate_url

    db = settings.database
    with database_server(database_url=db.url, data_dir=db.data_dir) as url:
        migrate_url(url)
        return work(url)


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from csms.storage import migrate

    applied = migrate(settings.database.data_dir, settings.database.url)
    print("\n".join(f"applied {name}" for name in applied) or "schema is up to date")
    return 0


def _station_add(settings: Settings, args: argparse.Namespace) -> int:
    from psycopg.errors import UniqueViolation

    from csms.storage import connect, stations
    from csms.transport import hash_password, is_strong_password

    if args.password is not None and not is_strong_password(args.password):
        print(
            "csms: --password must be 16 to 40 characters of the OCPP passwordString alphabet",
            file=sys.stderr,
        )
        return 2
    if args.password is None and args.security_profile != 3:
        print("csms: --password is required for security profiles 1 and 2", file=sys.stderr)
        return 2
    hashed = hash_password(args.password) if args.password is not None else None

    def add(url: str) -> int:
        with connect(url) as conn:
            try:
                stations.create(
                    conn,
                    args.id,
                    password_hash=hashed,
                    security_profile=args.security_profile,
                    registration_status=args.status,
                )
            except UniqueViolation:
                print(f"csms: station {args.id} already exists", file=sys.stderr)
                return 1
            conn.commit()
        print(
            f"station {args.id} registered ({args.status}, security profile "
            f"{args.security_profile})"
        )
        return 0

    return _with_database(settings, add)


def _station_list(settings: Settings, args: argparse.Namespace) -> int:
    from csms.storage import connect, stations

    def show(url: str) -> int:
        with connect(url) as conn:
            rows = stations.list_stations(conn, limit=10_000)
        print(f"{'id':<24} {'status':<9} {'profile':>7} {'node':<12} model")
        for row in rows:
            print(
                f"{row.id:<24} {row.registration_status:<9} {row.security_profile:>7} "
                f"{row.node_id or '-':<12} {row.vendor_name or ''} {row.model or ''}".rstrip()
            )
        return 0

    return _with_database(settings, show)


def _cluster(settings: Settings, args: argparse.Namespace) -> int:
    from csms.storage import connect, nodes

    def show(url: str) -> int:
        with connect(url) as conn:
            rows = nodes.list_nodes(conn)
        print(f"{'node':<16} {'state':<6} {'stations':>8}  since")
        for row in rows:
            state = "alive" if row.alive else "lost"  # lost: presence left, not reaped yet
            since = row.since.isoformat() if row.since else "-"
            print(f"{row.id:<16} {state:<6} {row.stations:>8}  {since}")
        return 0

    return _with_database(settings, show)


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from psycopg.errors import UniqueViolation

    from csms.api import create_token, revoke_token
    from csms.storage import NotFound

    def work(url: str) -> int:
        if args.token_command == "revoke":
            try:
                revoke_token(url, args.name)
            except NotFound:
                print(f"csms: no live token named {args.name}", file=sys.stderr)
                return 1
            print(f"token {args.name} revoked")
            return 0
        try:
            secret = create_token(url, args.role, args.name)
        except UniqueViolation:
            print(f"csms: a token named {args.name} exists", file=sys.stderr)
            return 1
        print(f"{args.role} token {args.name} (shown once, keep it safe):\n{secret}")
        return 0

    return _with_database(settings, work)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"csms: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log.level, json=settings.log.json)
    if args.command in ("simulate", "loadtest"):
        from csms.simulator.cli import run

        return run(args)
    if args.command == "soak":
        from csms.soak.cli import run as soak

        return soak(args)
    if args.command == "serve":
        from csms.node import serve

        trio.run(serve, settings)
        return 0
    if args.command == "migrate":
        return _migrate(settings, args)
    if args.command == "token":
        return _token(settings, args)
    if args.command == "cluster":
        return _cluster(settings, args)
    if args.station_command == "add":
        return _station_add(settings, args)
    return _station_list(settings, args)


if __name__ == "__main__":
    sys.exit(main())
