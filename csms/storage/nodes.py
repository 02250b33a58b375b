"""Node liveness without a table: a live node holds a session advisory lock named after it
on a connection of its own (``hold``), whose ``application_name`` is ``csms-node:<id>``.

When the node dies (SIGKILL, a cut cable) PostgreSQL ends its session and the lock is free:
no heartbeat period and no clocks to compare. A surviving node finds the nodes that presence
rows or open commands still name, and reaps each one whose lock it can take (``reap``, in one
transaction that holds the lock, so two survivors do not both reap it and the node cannot come
back half-way): its presence rows are cleared and its commands still pending or sent are
closed failed with error_code ``node_lost``.
"""

from __future__ import annotations

import datetime as dt

import attrs

from ._connect import Connection, connect

__all__ = ["NodeIdTaken", "NodeRow", "Reaped", "hold", "list_nodes", "reap", "suspects"]

#: The advisory locks' first key: the nodes' namespace (the second is hashtext(node id)).
LOCK_NAMESPACE = 0x0C5A_0009
APPLICATION_PREFIX = "csms-node:"


@attrs.frozen
class NodeRow:
    id: str
    #: Stations whose presence row names the node.
    stations: int
    #: Whether the node holds its lock (it is running).
    alive: bool
    #: When its liveness session started (None when it is not alive).
    since: dt.datetime | None


@attrs.frozen
class Reaped:
    node_id: str
    stations: int
    commands: int


class NodeIdTaken(RuntimeError):
    """Another running node holds this node id's lock."""


def hold(url: str, node_id: str) -> Connection:
    """A connection holding ``node_id``'s lock for as long as it stays open (autocommit: it
    sits idle, not in a transaction). Raises ``NodeIdTaken`` if a running node has it."""
    conn = connect(url, autocommit=True)
    taken = False
    try:
        conn.execute(
            "SELECT set_config('application_name', %s, false)", (APPLICATION_PREFIX + node_id,)
        )
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, node_id)
        ).fetchone()
        taken = row is not None and bool(row[0])
    finally:
        if not taken:
            conn.close()
    if not taken:
        raise NodeIdTaken(f"node id {node_id!r} is held by a running node")
    return conn


def suspects(conn: Connection, me: str) -> list[str]:
    """Other nodes named by presence rows or open commands (alive or not)."""
    rows = conn.execute(
        "SELECT node_id FROM stations WHERE node_id IS NOT NULL AND node_id <> %(me)s"
        " UNION SELECT node_id FROM commands WHERE status IN ('pending', 'sent')"
        " AND node_id IS NOT NULL AND node_id <> %(me)s ORDER BY 1",
        {"me": me},
    ).fetchall()
    return [r[0] for r in rows]


def reap(conn: Connection, node_id: str) -> Reaped | None:
    """Clean up after ``node_id`` if it is not running (its lock is free); None if it is."""
    row = conn.execute(
        "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, node_id)
    ).fetchone()
    if row is None or not row[0]:
        return None  # alive (or another survivor is reaping it right now)
    stations = conn.execute(
        "UPDATE stations SET node_id = NULL, connected_since = NULL, updated_at = now()"
        " WHERE node_id = %s",
        (node_id,),
    ).rowcount
    commands = conn.execute(
        "UPDATE commands SET status = 'failed', error_code = 'node_lost',"
        " error_description = 'the node holding the station stopped before it answered',"
        " completed_at = now() WHERE node_id = %s AND status IN ('pending', 'sent')",
        (node_id,),
    ).rowcount
    return Reaped(node_id, stations, commands)


def list_nodes(conn: Connection) -> list[NodeRow]:
    """The running nodes and the nodes presence rows name, with their station counts."""
    alive = {
        name[len(APPLICATION_PREFIX) :]: since
        for name, since in conn.execute(
            "SELECT application_name, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE %s",
            (APPLICATION_PREFIX + "%",),
        ).fetchall()
    }
    counts = dict(
        conn.execute(
            "SELECT node_id, count(*)::int FROM stations WHERE node_id IS NOT NULL GROUP BY node_id"
        ).fetchall()
    )
    return [
        NodeRow(node, counts.get(node, 0), node in alive, alive.get(node))
        for node in sorted(set(alive) | set(counts))
    ]
