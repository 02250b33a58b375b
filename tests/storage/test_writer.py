"""The batch writer against a real database: exactly-once events, bad records, lost commits."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from csms.domain.records import (
    CommandAudit,
    DeviceVariableRecord,
    EvseStatus,
    FirmwareStatusRecord,
    SecurityEventRecord,
    StationPresence,
    StationUpsert,
)
from csms.storage import Batch, BatchWriter, TransientError, connect
from csms.storage import firmware as firmware_repo
from csms.storage import stations as station_repo
from csms.storage import transactions as tx_repo

from .records import T0, meter, station, tx_event


@pytest.fixture
def writer(database_url):
    w = BatchWriter(database_url)
    yield w
    w.close()


def write(writer: BatchWriter, *groups) -> list[BaseException | None]:
    batch = Batch([list(g) for g in groups])
    writer.write(batch)
    assert batch.results is not None
    return batch.results


def count(url: str, table: str) -> int:
    with connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_records_of_every_kind_are_stored(writer, database_url):
    assert write(writer, [station()]) == [None]
    with connect(database_url) as conn:
        firmware_repo.create_job(
            conn,
            station_id="CP001",
            request_id=7,
            location="https://fw.example/1.bin",
            retrieve_at=T0,
            requested_by="admin",
        )
        conn.execute("UPDATE firmware_updates SET status_at = %s", (T0,))
        conn.commit()
    results = write(
        writer,
        [StationPresence("CP001", "node-a", True, T0)],
        [EvseStatus("CP001", 1, 1, "Occupied", T0)],
        [tx_event(0, "Started")],
        [meter(n=5)],
        [
            CommandAudit(
                "6f1d9ad4-1f0e-4a1a-9a55-5d1c1f3c2b11",
                "CP001",
                "Reset",
                "operator:alice",
                {"type": "Immediate"},
                "sent",
                T0,
            )
        ],
        [SecurityEventRecord("CP001", "FirmwareUpdated", T0, "v2")],
        [DeviceVariableRecord("CP001", "OCPPCommCtrlr", "HeartbeatInterval", T0, value="300")],
        [FirmwareStatusRecord("CP001", 7, "Downloading", T0 + dt.timedelta(seconds=1))],
    )
    assert results == [None] * 8
    with connect(database_url) as conn:
        row = station_repo.get(conn, "CP001")
        assert row is not None
        assert (row.node_id, row.vendor_name, row.registration_status) == (
            "node-a",
            "Acme",
            "Accepted",
        )
        assert [e.status for e in station_repo.list_evses(conn, "CP001")] == ["Occupied"]
        tx = tx_repo.get(conn, "CP001", "tx-1")
        assert tx is not None
        assert tx.state == "Active"
    assert count(database_url, "meter_values") == 3
    assert count(database_url, "commands") == 1
    assert count(database_url, "security_events") == 1
    assert count(database_url, "device_variables") == 1
    with connect(database_url) as conn:
        job = firmware_repo.get_job(conn, "CP001", 7)
    assert job is not None
    assert job.status == "Downloading"


def test_a_retried_transaction_event_is_stored_once_with_its_meter_values(writer, database_url):
    """E01/E02: the station resends an unacknowledged TransactionEvent; the CSMS acknowledges
    it again but stores neither the event nor its meter values twice."""
    assert write(writer, [station()], [tx_event(0, "Started")], [tx_event(1)]) == [None] * 3
    # retried in a later batch, and twice within one batch
    assert write(writer, [tx_event(1)], [tx_event(1)], [tx_event(2, "Ended")]) == [None] * 3
    with connect(database_url) as conn:
        events = tx_repo.events(conn, "CP001", "tx-1")
        values = tx_repo.meter_values_by_transaction(conn, "CP001", "tx-1")
        tx = tx_repo.get(conn, "CP001", "tx-1")
    assert [e.seq_no for e in events] == [0, 1, 2]
    assert len(values) == 6
    assert tx is not None
    assert tx.state == "Ended"
    assert tx.ended_at == T0 + dt.timedelta(minutes=2)


def test_a_new_event_sent_twice_in_one_batch_stores_its_meter_values_once(writer, database_url):
    """A station that resends a TransactionEvent before the first is acknowledged can put both
    copies in one batch: the event and its meter values are stored once."""
    write(writer, [station()])
    assert write(writer, [tx_event(0, "Started")], [tx_event(0, "Started")]) == [None, None]
    assert count(database_url, "transaction_events") == 1
    assert count(database_url, "meter_values") == 2


def test_one_batch_with_several_events_of_a_transaction_and_statuses_of_a_connector(
    writer, database_url
):
    """Several records for one row (a transaction, a connector) in one batch are applied in
    their order, as if written one by one."""
    write(writer, [station()])
    statuses = [
        EvseStatus("CP001", 1, 1, s, T0 + dt.timedelta(seconds=i))
        for i, s in enumerate(["Occupied", "Available", "Faulted"])
    ]
    groups = [[tx_event(0, "Started")], [tx_event(1)], [tx_event(2, "Ended")]]
    assert write(writer, *([s] for s in statuses), *groups) == [None] * 6
    with connect(database_url) as conn:
        tx = tx_repo.get(conn, "CP001", "tx-1")
        row = conn.execute(
            "SELECT status FROM evses WHERE station_id = 'CP001' AND evse_id = 1"
        ).fetchone()
    assert tx is not None
    assert (tx.state, tx.started_at, tx.last_seq_no) == ("Ended", T0, 2)
    assert row == ("Faulted",)
    assert count(database_url, "meter_values") == 6


def test_events_out_of_order_still_build_the_transaction(writer, database_url):
    write(writer, [station()])
    write(writer, [tx_event(2, "Ended")])
    write(writer, [tx_event(1)])
    write(writer, [tx_event(0, "Started")])
    with connect(database_url) as conn:
        tx = tx_repo.get(conn, "CP001", "tx-1")
    assert tx is not None
    assert (tx.state, tx.started_at, tx.last_seq_no) == ("Ended", T0, 2)


def test_one_bad_group_is_refused_and_the_good_ones_are_committed(writer, database_url):
    """The vendor name is too long for the column check: only that group fails, loudly."""
    too_long = StationUpsert("CP002", T0, vendor_name="x" * 51)
    results = write(writer, [station()], [too_long, meter("CP002")], [meter(n=1), meter(n=2)])
    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], psycopg.errors.CheckViolation)
    with connect(database_url) as conn:
        assert station_repo.get(conn, "CP002") is None
        assert station_repo.get(conn, "CP001") is not None
    # the bad group's meter value went with it (a group is all or nothing)
    assert count(database_url, "meter_values") == 2


def test_a_commit_lost_in_transit_is_not_written_twice(writer, database_url):
    """The connection died during COMMIT; the next attempt finds the transaction committed and
    settles the batch without writing again."""
    with connect(database_url) as conn:
        xid = conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
        conn.execute(
            "INSERT INTO security_events (station_id, type, timestamp) VALUES"
            " ('CP001', 'Lost', now())"
        )
        conn.commit()
    batch = Batch([[SecurityEventRecord("CP001", "Lost", T0)]], uncertain_xid=xid)
    writer.write(batch)
    assert batch.results == [None]
    assert count(database_url, "security_events") == 1


def test_an_aborted_commit_is_written_again(writer, database_url):
    with connect(database_url) as conn:
        xid = conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
        conn.rollback()
    batch = Batch([[SecurityEventRecord("CP001", "Again", T0)]], uncertain_xid=xid)
    writer.write(batch)
    assert batch.results == [None]
    assert batch.uncertain_xid is None
    assert count(database_url, "security_events") == 1


def test_an_unreachable_database_is_a_transient_error(tmp_path):
    writer = BatchWriter(f"postgresql://postgres@/postgres?host={tmp_path}", connect_timeout=1)
    batch = Batch([[meter()]])
    with pytest.raises(TransientError):
        writer.write(batch)
    assert not batch.settled


def test_a_boot_update_never_recreates_a_deleted_station(writer, database_url):
    """A BootNotification written after the station was deleted must not bring it back."""
    write(writer, [station("CP1")])
    with connect(database_url) as conn:
        station_repo.delete(conn, "CP1")
        conn.commit()
    boot = StationUpsert("CP1", T0, vendor_name="Acme", boot_reason="PowerUp", create=False)
    assert write(writer, [boot]) == [None]
    write(writer, [station("CP2"), StationUpsert("CP2", T0, boot_reason="PowerUp", create=False)])
    with connect(database_url) as conn:
        assert station_repo.get(conn, "CP1") is None
        row = station_repo.get(conn, "CP2")
    assert row is not None
    assert row.last_boot_reason == "PowerUp"


def test_a_commit_lost_with_a_crash_before_its_xid_was_logged_is_written_again(
    writer, database_url
):
    """After a crash the server may not know the transaction id taken before the lost COMMIT
    ("in the future"): it cannot have committed, so the batch is written, once."""
    with connect(database_url) as conn:
        row = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    assert row is not None
    batch = Batch([[station("CP7")]])
    batch.uncertain_xid = str(row[0] + 1_000_000)
    writer.write(batch)
    assert batch.results == [None]
    with connect(database_url) as conn:
        assert station_repo.get(conn, "CP7") is not None
