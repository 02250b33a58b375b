"""The dashboard's reads (csms/storage/dashboard.py) against the real schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from csms.storage import connect
from csms.storage import dashboard as q

MIDNIGHT = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)  # 00:00 in São Paulo
HOUR = dt.timedelta(hours=1)


def reading(conn, station: str, tx: str, at: dt.datetime, wh: int) -> None:
    conn.execute(
        "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id, measurand,"
        " value) VALUES (%s, %s, 1, %s, 'Energy.Active.Import.Register', %s)",
        (station, at, tx, wh),
    )
    conn.execute(
        "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id, measurand,"
        " value) VALUES (%s, %s, 1, %s, 'Power.Active.Import', 7000)",
        (station, at, tx),
    )


def test_energy_since_counts_each_transaction_from_its_first_reading_in_the_window(
    database_url,
):
    with connect(database_url) as conn:
        conn.execute("INSERT INTO stations (id) VALUES ('E1'), ('E2')")
        conn.execute(
            "INSERT INTO transactions (station_id, transaction_id, state, started_at, ended_at,"
            " last_seq_no) VALUES"
            " ('E1', 'overnight', 'Active', %(m)s - interval '2 hours', NULL, 0),"
            " ('E1', 'yesterday', 'Ended', %(m)s - interval '5 hours',"
            "  %(m)s - interval '4 hours', 0),"
            " ('E2', 'morning', 'Ended', %(m)s + interval '1 hour', %(m)s + interval '3 hours', 0)",
            {"m": MIDNIGHT},
        )
        # across midnight: only what was delivered after it counts (11,000 - 10,000 Wh)
        reading(conn, "E1", "overnight", MIDNIGHT - HOUR, 5_000)
        reading(conn, "E1", "overnight", MIDNIGHT + HOUR, 10_000)
        reading(conn, "E1", "overnight", MIDNIGHT + 2 * HOUR, 11_000)
        reading(conn, "E1", "yesterday", MIDNIGHT - 5 * HOUR, 0)
        reading(conn, "E1", "yesterday", MIDNIGHT - 4 * HOUR, 9_000)
        reading(conn, "E2", "morning", MIDNIGHT + HOUR, 200)
        reading(conn, "E2", "morning", MIDNIGHT + 3 * HOUR, 3_200)
        conn.commit()
        assert q.energy_since(conn, MIDNIGHT) == Decimal(4_000)
        assert q.energy_since(conn, MIDNIGHT + 10 * HOUR) == Decimal(0)


def test_energy_since_on_a_busy_station_counts_each_of_its_back_to_back_transactions(
    database_url,
):
    """Each transaction's readings are found from its own start and end (a station stamping
    its first reading a minute before the event included), not from midnight."""
    minute = dt.timedelta(minutes=1)
    with connect(database_url) as conn:
        conn.execute("INSERT INTO stations (id) VALUES ('B1')")
        for i in range(20):
            start = MIDNIGHT + HOUR + i * 10 * minute
            conn.execute(
                "INSERT INTO transactions (station_id, transaction_id, state, started_at,"
                " ended_at, last_seq_no) VALUES ('B1', %s, 'Ended', %s, %s, 0)",
                (f"t{i}", start, start + 8 * minute),
            )
            reading(conn, "B1", f"t{i}", start - minute, 100_000 + 1_000 * i)
            reading(conn, "B1", f"t{i}", start + 4 * minute, 100_000 + 1_000 * i + 200)
            reading(conn, "B1", f"t{i}", start + 8 * minute, 100_000 + 1_000 * i + 500)
        conn.commit()
        assert q.energy_since(conn, MIDNIGHT) == Decimal(20 * 500)


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
