"""Which node runs a discharge session (SPEC sections 6 and 9): ``v2g_sessions.claim`` gives a
session to a node only when no other live node runs it, and at a node's start only when no other
live node holds its station; ``release`` gives it back. A live node is one holding its liveness
connection (``nodes.hold``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from csms.storage import connect, nodes, stations
from csms.storage import v2g_sessions as repo


def session(database_url: str, station_id: str, node_id: str | None) -> uuid.UUID:
    with connect(database_url) as conn:
        stations.create(conn, station_id)
        row = repo.create(
            conn,
            repo.NewSession(
                station_id=station_id,
                evse_id=1,
                requested_by="test",
                target_power_w=Decimal(5000),
                min_soc_percent=Decimal(30),
                ocpp_version="ocpp2.1",
                state="discharging",
                node_id=node_id,
            ),
        )
        conn.commit()
    return row.id


def present(database_url: str, station_id: str, node_id: str) -> None:
    with connect(database_url) as conn:
        conn.execute(
            "UPDATE stations SET node_id = %s, connected_since = now() WHERE id = %s",
            (node_id, station_id),
        )
        conn.commit()


def claim(
    database_url: str, node_id: str, station_ids: list[str] | None, **kw: bool
) -> repo.Claimed:
    with connect(database_url) as conn:
        claimed = repo.claim(conn, node_id, station_ids, **kw)
        conn.commit()
    return claimed


def test_a_session_run_by_a_live_node_is_claimed_only_once_that_node_gives_it_back_or_dies(
    database_url: str,
) -> None:
    held = session(database_url, "CP-HELD", "node-b")
    with nodes.hold(database_url, "node-b"), nodes.hold(database_url, "node-a"):
        assert claim(database_url, "node-a", ["CP-HELD"]) == repo.Claimed([], ["CP-HELD"])
        with connect(database_url) as conn:
            repo.release(conn, "node-b", [held])
            conn.commit()
        assert claim(database_url, "node-a", ["CP-HELD"]) == repo.Claimed([(held, "CP-HELD")], [])
        assert claim(database_url, "node-b", ["CP-HELD"]) == repo.Claimed([], ["CP-HELD"])
    # node-a stopped (its liveness connection closed): node-b may take it now
    assert claim(database_url, "node-b", ["CP-HELD"]) == repo.Claimed([(held, "CP-HELD")], [])


def test_a_starting_node_takes_the_sessions_of_stations_no_other_live_node_holds(
    database_url: str,
) -> None:
    nowhere = session(database_url, "CP-NOWHERE", "node-gone")
    elsewhere = session(database_url, "CP-ELSEWHERE", None)
    mine = session(database_url, "CP-MINE", "node-a")
    present(database_url, "CP-ELSEWHERE", "node-b")
    with nodes.hold(database_url, "node-b"), nodes.hold(database_url, "node-a"):
        started = claim(database_url, "node-a", None)
        assert sorted(started.sessions) == sorted([(nowhere, "CP-NOWHERE"), (mine, "CP-MINE")])
        # the periodic check: only the sessions no live node runs, not its own again
        assert claim(database_url, "node-a", None, again=False).sessions == []
    # node-b died: the session of the station it held may be run here
    assert claim(database_url, "node-a", None, again=False).sessions == [
        (elsewhere, "CP-ELSEWHERE")
    ]
