"""What the V2G optimizer reads (csms/storage/optimizer_inputs.py): one candidate per EVSE with
an active transaction of an opted-in user's token, with its SoC, capability, support, cycles of
the day and active session; and the optimizer's own active sessions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from csms.services.v2g_preferences import V2GPreferences
from csms.storage import connect, v2g_sessions
from csms.storage import stations as station_repo
from csms.storage.optimizer_inputs import read_optimizer_inputs
from csms.storage.users import create_user, upsert_preferences

OWN = "optimizer"
T0 = dt.datetime(2026, 3, 3, 19, tzinfo=dt.UTC)
DAY_START = dt.datetime(2026, 3, 3, 3, tzinfo=dt.UTC)


def _transaction(conn, station_id: str, tx: str, evse_id: int, token: str, *, minutes=0) -> None:
    conn.execute(
        "INSERT INTO transactions (station_id, transaction_id, state, evse_id, id_token,"
        " id_token_type, started_at, last_seq_no) VALUES (%s, %s, 'Active', %s, %s,"
        " 'ISO14443', %s, 0)",
        (station_id, tx, evse_id, token, T0 + dt.timedelta(minutes=minutes)),
    )


def _soc(conn, station_id: str, tx: str, evse_id: int, minutes: int, soc: int) -> None:
    conn.execute(
        "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id, measurand,"
        " value) VALUES (%s, %s, %s, %s, 'SoC', %s)",
        (station_id, T0 + dt.timedelta(minutes=minutes), evse_id, tx, soc),
    )


def _user(conn, user_id: str, token: str, *, opt_in: bool) -> None:
    create_user(conn, user_id, user_id)
    conn.execute(
        "INSERT INTO id_tokens (id_token, type, user_id) VALUES (%s, 'ISO14443', %s)",
        (token, user_id),
    )
    prefs = V2GPreferences(user_id, opt_in, Decimal(30), Decimal(7000))
    upsert_preferences(conn, prefs)


def _session(conn, station_id: str, evse_id: int, tx: str, by: str) -> v2g_sessions.SessionRow:
    new = v2g_sessions.NewSession(
        station_id,
        evse_id,
        by,
        Decimal(5000),
        Decimal(30),
        "ocpp2.1",
        state="discharging",
        transaction_id=tx,
        user_id="ana",
    )
    return v2g_sessions.create(conn, new)


@pytest.fixture
def conn(database_url):
    with connect(database_url) as conn:
        for station_id in ("CP1", "CP2"):
            station_repo.create(conn, station_id)
        _user(conn, "ana", "TAGANA", opt_in=True)
        _user(conn, "bia", "TAGBIA", opt_in=False)
        _transaction(conn, "CP1", "old", 1, "tagana")  # an older one on the same EVSE
        _transaction(conn, "CP1", "tx1", 1, "TAGANA", minutes=5)
        _transaction(conn, "CP1", "tx2", 2, "TAGBIA")  # not opted in
        _transaction(conn, "CP2", "tx3", 1, "TAGANA")
        _transaction(conn, "CP2", "tx4", 2, "NOBODY")  # a token of no user
        _soc(conn, "CP1", "tx1", 1, 6, 70)
        _soc(conn, "CP1", "tx1", 1, 8, 64)
        yield conn


def test_one_candidate_per_evse_of_an_opted_in_users_active_transaction(conn):
    inputs = read_optimizer_inputs(conn, day_start=DAY_START, requested_by=OWN)
    found = [(c.station_id, c.evse_id, c.transaction_id) for c in inputs.candidates]
    assert found == [("CP1", 1, "tx1"), ("CP2", 1, "tx3")]
    first = inputs.candidates[0]
    assert first.soc_percent == 64  # the newest reading
    assert first.preferences.user_id == "ana"
    assert (first.cycles_today, first.session, first.needs) == (0, None, None)
    assert inputs.own_sessions == []
    only = read_optimizer_inputs(conn, day_start=DAY_START, requested_by=OWN, station_id="CP2")
    assert [c.transaction_id for c in only.candidates] == ["tx3"]


def test_sessions_cycles_and_the_lower_soc_of_a_session(conn):
    own = _session(conn, "CP1", 1, "tx1", OWN)
    v2g_sessions.save(conn, own.id, soc_percent=Decimal(31), started_at=T0)
    operators = _session(conn, "CP2", 1, "tx3", "alice")
    v2g_sessions.save(conn, operators.id, started_at=T0)
    inputs = read_optimizer_inputs(conn, day_start=DAY_START, requested_by=OWN)
    first, second = inputs.candidates
    assert (first.session.id, first.session.requested_by) == (own.id, OWN)
    assert (second.session.id, second.session.requested_by) == (operators.id, "alice")
    assert first.cycles_today == 2  # ana's sessions started today
    assert first.soc_percent == 31  # the session saw a lower SoC than the stored meter values
    assert [s.id for s in inputs.own_sessions] == [own.id]
    # a session counts on the day it was created (the database's clock): not tomorrow
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    later = read_optimizer_inputs(conn, day_start=tomorrow, requested_by=OWN)
    assert later.candidates[0].cycles_today == 0
