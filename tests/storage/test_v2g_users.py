"""Users, their id tokens and V2G preferences in PostgreSQL; migration 0008 from an older schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import psycopg
import pytest
from psycopg.types.json import Jsonb

from csms.services.v2g_preferences import DischargeWindow, V2GPreferences
from csms.storage import NotFound, apply_migrations, connect, load_migrations, users
from csms.storage import stations as station_repo
from csms.storage import tokens as token_repo
from csms.storage import v2g as v2g_repo

from .records import T0

PREFS = V2GPreferences(
    user_id="maria",
    opt_in=True,
    min_soc_percent=Decimal(30),
    max_discharge_w=Decimal(7400),
    windows=(
        DischargeWindow(frozenset({0, 4}), dt.time(18), dt.time(21)),
        DischargeWindow(frozenset({5}), dt.time(22), dt.time(6)),
    ),
    max_cycles_per_day=2,
    departure_energy_wh=Decimal(20000),
    departure_time=dt.time(7, 30),
)


@pytest.fixture
def conn(database_url):
    with connect(database_url) as c:
        yield c


def test_users_round_trip_and_page_in_id_order(conn):
    created = users.create_user(conn, "maria", "Maria", wallet_id="wallet-7")
    assert (created.user_id, created.name, created.wallet_id, created.id_tokens) == (
        "maria",
        "Maria",
        "wallet-7",
        [],
    )
    assert users.get_user(conn, "maria") == created
    assert users.get_user(conn, "nobody") is None
    users.create_user(conn, "ana", "Ana")
    users.create_user(conn, "zeca", "Zeca")
    assert [u.user_id for u in users.list_users(conn)] == ["ana", "maria", "zeca"]
    assert [u.user_id for u in users.list_users(conn, after="ana", limit=1)] == ["maria"]
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        users.create_user(conn, "maria", "Another Maria")
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        users.create_user(conn, "blank", "")


def test_linking_id_tokens_to_users(conn):
    users.create_user(conn, "maria", "Maria")
    users.create_user(conn, "ana", "Ana")
    token_repo.upsert_id_token(conn, "TAG1", "ISO14443")
    token_repo.upsert_id_token(conn, "TAG2", "ISO14443")
    # matched case-insensitively, as OCPP requires; stored under its own spelling
    linked = users.link_id_token(conn, "maria", "tag1", "ISO14443")
    assert (linked.token.id_token, linked.token.user_id, linked.previous_user_id) == (
        "TAG1",
        "maria",
        None,
    )
    again = users.link_id_token(conn, "maria", "TAG1", "ISO14443")
    assert again.previous_user_id == "maria"
    taken = users.link_id_token(conn, "ana", "TAG1", "ISO14443")
    assert taken.previous_user_id == "maria"
    assert token_repo.get_id_token(conn, "TAG1", "ISO14443").user_id == "maria"
    assert users.link_id_token(conn, "maria", "TAG9", "ISO14443").token is None
    assert users.link_id_token(conn, "maria", "TAG1", "Central").token is None
    users.link_id_token(conn, "maria", "TAG2", "ISO14443")
    assert users.get_user(conn, "maria").id_tokens == [("TAG1", "ISO14443"), ("TAG2", "ISO14443")]
    with pytest.raises(NotFound):  # before anything else, even a token of someone else's
        users.link_id_token(conn, "nobody", "TAG2", "ISO14443")
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        token_repo.upsert_id_token(conn, "TAG3", "ISO14443", user_id="nobody")


def test_preferences_round_trip_through_the_policy_values(conn):
    users.create_user(conn, "maria", "Maria")
    assert users.get_preferences(conn, "maria") is None
    stored = users.upsert_preferences(conn, PREFS)
    assert stored.preferences == PREFS
    assert stored.allowed_windows == [
        {"days": ["Mon", "Fri"], "start": "18:00", "end": "21:00"},
        {"days": ["Sat"], "start": "22:00", "end": "06:00"},
    ]
    assert users.get_preferences(conn, "maria") == stored
    # replaced as a whole, the optional parts too
    plain = V2GPreferences("maria", False, Decimal(10), Decimal("3680.5"))
    replaced = users.upsert_preferences(conn, plain)
    assert replaced.preferences == plain
    assert replaced.updated_at >= stored.updated_at
    # the older name of the module still serves
    assert v2g_repo.get_preferences(conn, "maria") == replaced


def test_preferences_need_a_user_and_a_floor_of_ten_percent(conn):
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        users.upsert_preferences(conn, PREFS)
    users.create_user(conn, "maria", "Maria")
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        users.upsert_preferences(conn, attrs.evolve(PREFS, min_soc_percent=Decimal(9)))
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        users.upsert_preferences(conn, attrs.evolve(PREFS, departure_energy_wh=Decimal(-1)))


def test_preferences_of_the_user_owning_an_id_token(conn):
    users.create_user(conn, "maria", "Maria")
    token_repo.upsert_id_token(conn, "TAG1", "ISO14443", user_id="maria")
    token_repo.upsert_id_token(conn, "TAG2", "ISO14443")
    assert users.preferences_of_id_token(conn, "tag1", "ISO14443") is None  # none set yet
    users.upsert_preferences(conn, PREFS)
    assert users.preferences_of_id_token(conn, "tag1", "ISO14443").preferences == PREFS
    assert users.preferences_of_id_token(conn, "TAG2", "ISO14443") is None  # nobody's
    assert users.preferences_of_id_token(conn, "TAG1", "Central") is None


def test_a_station_declared_bidirectional(conn):
    plain = station_repo.create(conn, "CP001")
    assert plain.bidirectional is False
    declared = station_repo.create(conn, "CP002", bidirectional=True)
    assert declared.bidirectional is True
    assert station_repo.get(conn, "CP002").bidirectional is True
    assert station_repo.logins(conn, ["CP002"])["CP002"][1].bidirectional is True


def test_migration_0008_keeps_what_older_schemas_hold(empty_database_url):
    """Users named by id tokens and preferences become rows; the wallet moves to the user;
    numbered days become names; a floor below 10 % is raised to 10 %."""
    older = [m for m in load_migrations() if m.version <= 7]
    with connect(empty_database_url, autocommit=True) as conn:
        apply_migrations(conn, older)
        conn.execute("INSERT INTO stations (id) VALUES ('CP001')")
        conn.execute(
            "INSERT INTO id_tokens (id_token, type, user_id) VALUES ('TAG1', 'ISO14443', 'maria'),"
            " ('TAG2', 'ISO14443', NULL)"
        )
        conn.execute(
            "INSERT INTO v2g_preferences (user_id, opted_in, min_soc_percent,"
            " max_discharge_power_w, allowed_windows, wallet_id) VALUES"
            " ('maria', true, 5, 7400, %s, 'wallet-7'), ('ana', false, 40, 3000, '[]', NULL)",
            (Jsonb([{"days": [0, 6], "start": "18:00", "end": "21:00"}]),),
        )
        apply_migrations(conn)
        assert [(u.user_id, u.name, u.wallet_id) for u in users.list_users(conn)] == [
            ("ana", "ana", None),
            ("maria", "maria", "wallet-7"),
        ]
        assert users.get_user(conn, "maria").id_tokens == [("TAG1", "ISO14443")]
        maria = users.get_preferences(conn, "maria")
        assert maria.min_soc_percent == Decimal(10)
        assert maria.allowed_windows == [{"days": ["Mon", "Sun"], "start": "18:00", "end": "21:00"}]
        assert maria.preferences.windows[0].days == frozenset({0, 6})
        assert station_repo.get(conn, "CP001").bidirectional is False


def test_capability_rows_of_a_station(conn):
    station_repo.create(conn, "CP001")
    row = v2g_repo.CapabilityRow(
        "CP001",
        1,
        "EVCCID-1",
        True,
        ["DC", "DC_BPT"],
        Decimal(50000),
        Decimal(11000),
        None,
        "v2x_parameters",
        {"chargingNeeds": {}},
        T0,
    )
    v2g_repo.upsert_capability(conn, row)
    v2g_repo.upsert_capability(conn, attrs.evolve(row, ev_id="", updated_at=T0 + dt.timedelta(1)))
    assert [c.ev_id for c in v2g_repo.get_capability(conn, "CP001")] == ["", "EVCCID-1"]
    assert v2g_repo.get_capability(conn, "CP001")[1] == row
