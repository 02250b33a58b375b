"""A real node (embedded PostgreSQL, OCPP listener, REST API) for the simulator to talk to."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from csms.actors import Node
from csms.config import load_settings
from csms.node import open_node
from csms.simulator import ReconnectBackoff, StationConfig
from csms.storage import connect as db_connect
from csms.storage import stations
from csms.transport import hash_password
from tests.node_overrides import node_overrides

PASSWORD = "simulator-password-0123"


@contextlib.asynccontextmanager
async def running_node(
    database_url: str, *, port: int = 0, **overrides: Any
) -> AsyncIterator[Node]:
    settings = load_settings(
        env={},
        overrides=node_overrides(database_url, **{"ocpp.port": port, **overrides}),
    )
    async with open_node(settings, http=True, validate_outbound=True) as node:
        yield node


def register(database_url: str, *station_ids: str) -> None:
    with db_connect(database_url) as conn:
        for station_id in station_ids:
            stations.create(
                conn,
                station_id,
                password_hash=hash_password(PASSWORD),
                registration_status="Accepted",
            )
        conn.commit()


def fast_config(node: Node, station_id: str, **changes: Any) -> StationConfig:
    """Small intervals so a test against real sockets runs in well under a second of charging."""
    return StationConfig(
        station_id=station_id,
        server=f"ws://127.0.0.1:{node.ocpp_port}/ocpp",
        password=PASSWORD,
        meter_interval=0.05,
        backoff=ReconnectBackoff(wait_minimum=0.05, random_range=0.05, repeat_times=2),
        firmware_step=0.01,
        retry_interval=0.05,
        response_timeout=10.0,
        **changes,
    )
