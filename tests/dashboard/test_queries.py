"""The dashboard's reads (csms/storage/dashboard.py) against the real schema."""

from __future__ import annotations

import datetime as dt

from csms.storage import connect
from csms.storage import dashboard as q

MIDNIGHT = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)  # 00:00 in São Paulo
HOUR = dt.timedelta(hours=1)


def test_network_counts_and_a_stations_messages_both_ways_newest_first(database_url):
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO stations (id, node_id, connected_since) VALUES"
            " ('M1', 'node-1', now()), ('M2', NULL, NULL)"
        )
        conn.execute(
            "INSERT INTO evses (station_id, evse_id, connector_id, status, status_at) VALUES"
            " ('M2', 1, 1, 'Faulted', now()), ('M2', 2, 1, 'Faulted', now())"
        )
        conn.execute(
            "INSERT INTO transactions (station_id, transaction_id, state, started_at,"
            " last_seq_no) VALUES ('M1', 't1', 'Active', %s, 0)",
            (MIDNIGHT,),
        )
        conn.execute(
            "INSERT INTO transaction_events (station_id, transaction_id, seq_no, event_type,"
            " timestamp, trigger_reason, payload) VALUES"
            " ('M1', 't1', 0, 'Started', %s, 'Authorized', '{}')",
            (MIDNIGHT,),
        )
        conn.execute(
            "INSERT INTO security_events (station_id, type, timestamp, tech_info) VALUES"
            " ('M1', 'StartupOfTheDevice', %s, 'boot')",
            (MIDNIGHT + 2 * HOUR,),
        )
        conn.execute(
            "INSERT INTO commands (id, station_id, action, requested_by, payload, status,"
            " requested_at, completed_at) VALUES (gen_random_uuid(), 'M1', 'Reset', 'ops',"
            " '{}', 'responded', %s, %s)",
            (MIDNIGHT + HOUR, MIDNIGHT + HOUR),
        )
        conn.commit()
        counts = q.network_counts(conn)
        assert (counts.stations, counts.online, counts.faulted) == (2, 1, 1)
        assert counts.active_transactions == 1
        messages = q.station_messages(conn, "M1")
        assert [(m.direction, m.action) for m in messages] == [
            ("in", "SecurityEventNotification"),
            ("out", "Reset"),
            ("in", "TransactionEvent"),
        ]
        assert messages[0].summary == "StartupOfTheDevice: boot"
        assert [e.type for e in q.recent_security_events(conn)] == ["StartupOfTheDevice"]
