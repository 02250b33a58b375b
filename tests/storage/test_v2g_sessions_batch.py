"""The discharge sessions' records written as one batch (``store_updates``, one statement of
``v2g_updates.update_many``) store exactly what writing them one by one (``store_update``)
stores: the same session rows and the same trail entries, and a batch with a missing session
writes nothing. The record writer's ``commit_updates`` (the batch and its COMMIT in one
pipeline) commits the same."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from csms.actors.v2g._record import commit_updates, store_update, store_updates
from csms.actors.v2g._start import row_of
from csms.services.v2g_session import MeterReading, SessionPolicy
from csms.storage import NotFound, connect

from ..actors.v2g_sessions_rig import BASE, discharging, store
from ..services.v2g_examples import SP

POLICY = SessionPolicy(tz=SP)


def _records(states):
    """An ``updated`` record of each session, each from a different reading (some measurands
    missing, so that NULLs are written too)."""
    readings = [
        MeterReading(BASE + dt.timedelta(seconds=5), soc=Decimal(61)),
        MeterReading(BASE + dt.timedelta(seconds=6), soc=Decimal("59.5"), export_wh=Decimal(120)),
        MeterReading(BASE + dt.timedelta(seconds=7), export_power_w=Decimal(5400)),
        MeterReading(
            BASE + dt.timedelta(seconds=8),
            soc=Decimal(58),
            export_wh=Decimal("250.25"),
            export_power_w=Decimal(5900),
        ),
    ]
    records = []
    for state, reading in zip(states, readings, strict=True):
        later, _ = POLICY.step(state, reading)
        records.append((uuid.UUID(later.session_id), row_of(later), later))
    return records


def _written(conn, ids):
    rows = conn.execute(
        "SELECT to_jsonb(s) - 'updated_at' FROM v2g_sessions s WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()
    trail = conn.execute(
        "SELECT to_jsonb(e) - 'id' FROM v2g_events e WHERE session_id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()
    return rows, trail


def test_a_batch_writes_what_its_records_write_one_by_one(database_url):
    states = [discharging(f"CP{n}", POLICY) for n in range(4)]
    store(database_url, states)
    records = _records(states)
    ids = [r[0] for r in records]
    with connect(database_url) as conn:
        for record in records:
            store_update(conn, *record)
        one_by_one = _written(conn, ids)
        conn.rollback()
        before = _written(conn, ids)
        store_updates(conn, records)
        batch = _written(conn, ids)
    assert batch == one_by_one
    assert batch != before
    assert len(batch[1]) == 4


@pytest.mark.parametrize("write", [store_updates, commit_updates])
def test_a_batch_with_a_missing_session_writes_nothing(database_url, write):
    states = [discharging(f"CP{n}", POLICY) for n in range(4)]
    store(database_url, states)
    records = _records(states)
    missing = (uuid.uuid4(), records[1][1], records[1][2])
    with connect(database_url) as conn:
        before = _written(conn, [r[0] for r in records])
        with pytest.raises(NotFound):
            write(conn, [records[0], missing, records[2]])
        conn.rollback()
        assert _written(conn, [r[0] for r in records]) == before


def test_a_committed_batch_is_what_the_batch_writes(database_url):
    states = [discharging(f"CP{n}", POLICY) for n in range(4)]
    store(database_url, states)
    records = _records(states)[:3]  # committed as statements of two rows and of one
    ids = [r[0] for r in records]
    with connect(database_url) as conn:
        store_updates(conn, records)
        batch = _written(conn, ids)
        conn.rollback()
        commit_updates(conn, records)
    with connect(database_url) as conn:  # committed: another connection reads it
        assert _written(conn, ids) == batch
