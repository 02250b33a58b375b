"""Node liveness (SPEC section 9): a running node of a cluster holds a PostgreSQL
advisory lock named after it; a node whose lock is free (it died, its session ended) is reaped
by a surviving node, once: its presence rows are cleared and its commands still pending or sent
are closed failed / node_lost. A node that holds its lock is left alone; a second node cannot
take a running node's id. `csms cluster` lists the nodes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import trio

from csms.cli import main
from csms.node import open_node
from csms.runtime import StartupFailed
from csms.storage import Connection, connect, nodes, stations
from csms.transport.nats_server import EmbeddedNats
from tests.api.conftest import node_settings


@pytest.fixture
def fresh_node(database_url: str) -> Iterator[Connection]:
    """node-fresh: a live node (this connection holds its lock)."""
    conn = nodes.hold(database_url, "node-fresh")
    try:
        yield conn
    finally:
        conn.close()


def presence_rows(database_url: str) -> str:
    """node-dead holds CP-DEAD with a command in flight; node-fresh holds CP-FRESH with one
    too. Returns node-dead's command."""
    dead = str(uuid.uuid4())
    with connect(database_url) as conn:
        for node, station, command in (
            ("node-dead", "CP-DEAD", dead),
            ("node-fresh", "CP-FRESH", str(uuid.uuid4())),
        ):
            stations.create(conn, station)
            conn.execute(
                "UPDATE stations SET node_id = %s, connected_since = now() WHERE id = %s",
                (node, station),
            )
            conn.execute(
                "INSERT INTO commands (id, station_id, action, requested_by, node_id, payload,"
                " status, requested_at, sent_at) VALUES (%s, %s, 'Reset', 'ops', %s, '{}',"
                " 'sent', now(), now())",
                (command, station, node),
            )
        conn.commit()
    return dead


def command_state(database_url: str, station: str) -> tuple[str, str | None]:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, error_code FROM commands WHERE station_id = %s", (station,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


async def test_a_dead_node_is_reaped_and_a_live_one_is_not(
    database_url: str, nats: EmbeddedNats, fresh_node: Connection
) -> None:
    presence_rows(database_url)
    settings = node_settings(database_url, **{"nats.url": nats.url, "nats.reap_interval_s": 0.05})
    async with open_node(settings) as node:
        server = node.root.ref("nats_commands")
        assert server is not None
        with trio.fail_after(30):
            while True:  # the node's next liveness check reaps it (committed by then)
                if command_state(database_url, "CP-DEAD")[0] != "sent":
                    break
                await trio.sleep(0.02)
        assert command_state(database_url, "CP-DEAD") == ("failed", "node_lost")
        assert command_state(database_url, "CP-FRESH") == ("sent", None)
        with connect(database_url) as conn:
            assert stations.get(conn, "CP-DEAD").node_id is None
            assert stations.get(conn, "CP-FRESH").node_id == "node-fresh"
            listed = {n.id: n for n in nodes.list_nodes(conn)}
        assert set(listed) == {"node-1", "node-fresh"}
        assert listed["node-1"].alive
        assert listed["node-fresh"].alive
        assert listed["node-fresh"].stations == 1


def test_a_node_is_reaped_once_and_only_when_its_lock_is_free(
    database_url: str, fresh_node: Connection
) -> None:
    presence_rows(database_url)
    with connect(database_url) as conn:
        assert nodes.suspects(conn, "node-1") == ["node-dead", "node-fresh"]
        assert nodes.reap(conn, "node-fresh") is None
        assert nodes.reap(conn, "node-dead") == nodes.Reaped("node-dead", 1, 1)
        conn.commit()
        assert nodes.suspects(conn, "node-1") == ["node-fresh"]
    fresh_node.close()  # node-fresh dies
    with connect(database_url) as conn:
        assert nodes.reap(conn, "node-fresh") == nodes.Reaped("node-fresh", 1, 1)


async def test_a_second_node_with_a_running_node_s_id_does_not_start(
    database_url: str, nats: EmbeddedNats, fresh_node: Connection
) -> None:
    settings = node_settings(database_url, **{"nats.url": nats.url, "node.id": "node-fresh"})
    with pytest.raises(BaseExceptionGroup) as caught:
        async with open_node(settings):
            pass
    assert caught.group_contains(StartupFailed, match="node-fresh.*held by a running node")


def test_csms_cluster_lists_the_nodes(
    database_url: str,
    fresh_node: Connection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    presence_rows(database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["cluster"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["node-dead", "lost", "1"]
    assert lines[2].split()[:3] == ["node-fresh", "alive", "1"]
