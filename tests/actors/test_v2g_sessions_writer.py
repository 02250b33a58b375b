"""The sessions' record writer (csms/actors/v2g/_writer.py) on PostgreSQL: records that come in
while a batch is written go into one transaction together, each writer returns once its record
is committed, and a bad record fails its own writer only (the batch is written again record
by record)."""

from __future__ import annotations

import uuid

import pytest
import trio

from csms.actors.database import DatabasePool
from csms.actors.v2g._start import row_of
from csms.actors.v2g._writer import RecordWriter
from csms.services.v2g_session import MeterReading, SessionPolicy
from csms.storage import NotFound, connect
from csms.storage import v2g_sessions as repo

from ..services.v2g_examples import SP
from .v2g_sessions_rig import BASE, discharging, store

POLICY = SessionPolicy(tz=SP)


async def test_records_written_together_and_a_bad_one_fails_alone(database_url, nursery):
    states = [discharging(f"CP{n}", POLICY) for n in range(20)]
    store(database_url, states)
    database = DatabasePool(database_url, size=2)
    writer = RecordWriter(database)
    await nursery.start(writer.run)
    failed: list[BaseException] = []

    async def record(session_id: uuid.UUID, soc: int, state) -> None:
        later, _ = POLICY.step(state, MeterReading(BASE, soc=soc))
        try:
            await writer.write(session_id, row_of(later), later)
        except NotFound as exc:
            failed.append(exc)

    try:
        async with trio.open_nursery() as writers:
            for state in states:
                writers.start_soon(record, uuid.UUID(state.session_id), 60, state)
        assert writer.written == 20
        assert writer.batches < 20  # together, not one transaction each
        async with trio.open_nursery() as writers:
            writers.start_soon(record, uuid.UUID(states[0].session_id), 59, states[0])
            writers.start_soon(record, uuid.uuid4(), 59, states[1])  # no such session
        assert len(failed) == 1
    finally:
        database.close()
    with connect(database_url) as conn:
        trails = {s.session_id: repo.events(conn, uuid.UUID(s.session_id)) for s in states}
        first = repo.get(conn, states[0].session_id)
    assert [len(trail) for trail in trails.values()] == [2] + [1] * 19
    assert first is not None
    assert first.soc_percent == 59


async def test_writers_waiting_when_it_stops_are_not_left_waiting(database_url):
    [state] = [discharging("CP1", POLICY)]
    store(database_url, [state])
    database = DatabasePool(database_url, size=1)
    writer = RecordWriter(database)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run)
            nursery.cancel_scope.cancel()  # stopped before it took the record
            with pytest.raises(Exception, match="stopped"):
                await writer.write(uuid.UUID(state.session_id), row_of(state), state)
    finally:
        database.close()


async def test_records_handed_over_are_told_once_committed_in_order(database_url, nursery):
    [state] = [discharging("CP1", POLICY)]
    store(database_url, [state])
    session_id = uuid.UUID(state.session_id)
    database = DatabasePool(database_url, size=2)
    writer = RecordWriter(database)
    await nursery.start(writer.run)
    told: list[tuple[object, BaseException | None]] = []
    in_trail: list[bool] = []
    fourth = trio.Event()

    def settled(later, error: BaseException | None) -> None:
        # called once the record is committed: another connection sees its trail entry
        with connect(database_url) as conn:
            trail = conn.execute(
                "SELECT soc_percent FROM v2g_events WHERE session_id = %s", (session_id,)
            ).fetchall()
        in_trail.append((later.last_soc,) in trail)
        told.append((later.last_soc, error))
        if len(told) == 4:
            fourth.set()

    try:
        later = state
        for soc in (70, 69, 68):
            later, _ = POLICY.step(later, MeterReading(BASE, soc=soc))
            writer.submit(session_id, row_of(later), later, settled)
        await writer.settled(session_id)  # all three settled, in the order handed over
        assert told == [(70, None), (69, None), (68, None)]
        assert in_trail == [True] * 3
        writer.submit(uuid.uuid4(), row_of(later), later, settled)  # no such session
        await writer.settled(session_id)  # nothing of this session pending: returns at once
        assert len(told) == 3
        with trio.fail_after(10):
            await fourth.wait()
        assert isinstance(told[3][1], NotFound)
    finally:
        database.close()
