"""Repository functions and the constraints that keep bad data out."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest

from csms.domain.records import CommandAudit
from csms.storage import Batch, BatchWriter, NotFound, connect, v2g_sessions
from csms.storage import certificates as cert_repo
from csms.storage import commands as command_repo
from csms.storage import firmware as firmware_repo
from csms.storage import stations as station_repo
from csms.storage import tokens as token_repo
from csms.storage import transactions as tx_repo

from .records import T0, meter, station, tx_event


@pytest.fixture
def conn(database_url):
    with connect(database_url) as c:
        station_repo.create(c, "CP001", password_hash="sha256$salt$" + "a" * 64)
        c.commit()
        yield c


def write(url: str, *records) -> None:
    writer = BatchWriter(url)
    try:
        batch = Batch([list(records)])
        writer.write(batch)
        assert batch.results == [None]
    finally:
        writer.close()


def test_station_crud(conn):
    assert station_repo.get(conn, "CP001").registration_status == "Accepted"
    assert station_repo.password_hash(conn, "CP001") == ("sha256$salt$" + "a" * 64, 1)
    stored, row = station_repo.login(conn, "CP001")
    assert stored == "sha256$salt$" + "a" * 64
    assert row == station_repo.get(conn, "CP001")
    assert station_repo.login(conn, "NOBODY") is None
    assert station_repo.logins(conn, ["CP001", "NOBODY"]) == {"CP001": (stored, row)}
    assert station_repo.logins(conn, []) == {}
    with pytest.raises(psycopg.errors.UniqueViolation):
        station_repo.create(conn, "CP001")
    conn.rollback()
    station_repo.create(conn, "CP002")
    station_repo.set_registration_status(conn, "CP002", "Rejected")
    assert [s.id for s in station_repo.list_stations(conn)] == ["CP001", "CP002"]
    assert [s.id for s in station_repo.list_stations(conn, after="CP001")] == ["CP002"]
    station_repo.delete(conn, "CP002")
    assert station_repo.get(conn, "CP002") is None
    with pytest.raises(NotFound):
        station_repo.delete(conn, "CP002")
    assert "password_hash" not in {a for a in dir(station_repo.get(conn, "CP001"))}


@pytest.mark.parametrize("bad_id", ["", "a" * 49, "CP:1"], ids=["empty", "too-long", "colon"])
def test_station_ids_follow_the_ocpp_rules(conn, bad_id):
    with pytest.raises(psycopg.errors.CheckViolation):
        station_repo.create(conn, bad_id)


def test_meter_values_by_transaction_and_time_range(conn, database_url):
    write(database_url, station(), tx_event(0, "Started", meter_values=3), meter(n=10_000))
    by_tx = tx_repo.meter_values_by_transaction(conn, "CP001", "tx-1")
    assert [v.value for v in by_tx] == [Decimal(1000), Decimal(1001), Decimal(1002)]
    window = tx_repo.meter_values_by_station(conn, "CP001", T0, T0 + dt.timedelta(seconds=2))
    assert len(window) == 2
    assert tx_repo.list_transactions(conn, station_id="CP001", active=True)[0].transaction_id == (
        "tx-1"
    )
    assert len(tx_repo.active_transactions(conn, "CP001")) == 1


def test_bad_meter_values_are_refused_by_the_database(conn):
    insert = (
        "INSERT INTO meter_values (station_id, timestamp, measurand, value) VALUES (%s, %s, %s, %s)"
    )
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute(insert, ("CP001", T0, "Energy.Made.Up", 1))
    conn.rollback()
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(insert, ("CP001", T0, "SoC", Decimal("NaN")))
    conn.rollback()


def test_a_finished_command_is_not_reopened_by_a_late_update(conn, database_url):
    command_id = str(uuid.uuid4())
    sent = CommandAudit(command_id, "CP001", "Reset", "admin", {"type": "OnIdle"}, "sent", T0)
    done = CommandAudit(
        command_id,
        "CP001",
        "Reset",
        "admin",
        {"type": "OnIdle"},
        "responded",
        T0,
        completed_at=T0 + dt.timedelta(seconds=1),
        response={"status": "Accepted"},
    )
    write(database_url, sent, done)
    write(database_url, sent)
    row = command_repo.get(conn, command_id)
    assert row is not None
    assert row.status == "responded"
    assert row.response == {"status": "Accepted"}
    assert [c.id for c in command_repo.list_for_station(conn, "CP001")] == [uuid.UUID(command_id)]
    assert command_repo.open_commands(conn, older_than=T0 + dt.timedelta(days=1)) == []


def test_tokens(conn):
    token_repo.upsert_id_token(conn, "AbC123", "ISO14443", group_id="fleet")
    assert token_repo.get_id_token(conn, "abc123", "ISO14443").group_id == "fleet"
    created = token_repo.create_api_token(conn, "ops", "h" * 64, "operator", expires_at=None)
    assert token_repo.api_token_by_hash(conn, "h" * 64).id == created.id
    token_repo.revoke_api_token(conn, "ops")
    assert token_repo.api_token_by_hash(conn, "h" * 64) is None
    with pytest.raises(psycopg.errors.CheckViolation):
        token_repo.create_api_token(conn, "root", "x" * 64, "superuser", expires_at=None)


def test_one_active_v2g_session_per_evse(conn):
    def start() -> v2g_sessions.SessionRow:
        return v2g_sessions.create(
            conn,
            v2g_sessions.NewSession(
                station_id="CP001",
                evse_id=1,
                requested_by="optimizer",
                target_power_w=Decimal(7000),
                min_soc_percent=Decimal(30),
                ocpp_version="ocpp2.1",
            ),
        )

    session = start()
    with pytest.raises(v2g_sessions.SessionActive), conn.transaction():
        start()
    ended = v2g_sessions.save(
        conn, session.id, state="completed", ended_at=T0, energy_exported_wh=Decimal("1500.5")
    )
    assert ended.state == "completed"
    assert v2g_sessions.list_sessions(conn, active=True) == []
    again = start()  # the EVSE is free again
    assert again.id != session.id


def test_one_running_firmware_job_per_station(conn):
    def job(request_id: int, **kw: object) -> firmware_repo.FirmwareJobRow:
        return firmware_repo.create_job(
            conn,
            station_id="CP001",
            request_id=request_id,
            location="https://fw.example/fw.bin",
            retrieve_at=T0,
            requested_by="admin",
            **kw,
        )

    job(1)
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        job(2)
    job(3, replace_active=True)
    assert firmware_repo.get_job(conn, "CP001", 1).status == "Replaced"
    assert [j.request_id for j in firmware_repo.active_jobs(conn)] == [3]
    firmware_repo.set_status(conn, "CP001", 3, "Installed", state="completed")
    assert firmware_repo.latest_job(conn, "CP001").state == "completed"


def test_certificates_by_contract_and_hash_data(conn):
    cert = cert_repo.insert(
        conn,
        kind="ContractCertificate",
        emaid="BRABC0000000001",
        vin="9BWZZZ377VT004251",
        subject="CN=BRABC0000000001",
        issuer="CN=MO Sub-CA",
        serial_number="0A1B",
        hash_algorithm="SHA256",
        issuer_name_hash="n" * 64,
        issuer_key_hash="k" * 64,
        certificate_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        valid_from=T0,
        valid_to=T0 + dt.timedelta(days=365),
    )
    assert [c.id for c in cert_repo.find_contract(conn, emaid="BRABC0000000001")] == [cert.id]
    assert [c.id for c in cert_repo.find_contract(conn, vin="9BWZZZ377VT004251")] == [cert.id]
    assert cert_repo.by_hash_data(conn, "SHA256", "n" * 64, "k" * 64, "0A1B")[0].id == cert.id
    cert_repo.revoke(conn, cert.id, T0)
    with pytest.raises(NotFound):
        cert_repo.revoke(conn, cert.id, T0)
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        cert_repo.insert(
            conn,
            kind="ContractCertificate",  # a contract certificate needs its EMAID
            subject="CN=x",
            issuer="CN=y",
            serial_number="01",
            hash_algorithm="SHA256",
            issuer_name_hash="a",
            issuer_key_hash="b",
            certificate_pem="-----BEGIN CERTIFICATE-----\n",
            valid_from=T0,
            valid_to=T0 + dt.timedelta(days=1),
        )
