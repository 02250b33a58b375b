"""The overview's energy of the day (csms/api/dashboard/_energy.py): transaction events stored by
the node's own writer, read back by the tally against the real schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from csms.actors.database import DatabasePool
from csms.api.dashboard._energy import EnergyTally
from csms.domain.records import StationUpsert, TransactionEventRecord
from csms.storage import Batch, BatchWriter, connect

from ..storage.records import tx_event

MIDNIGHT = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)  # 00:00 in São Paulo
HOUR = dt.timedelta(hours=1)
REGISTER = "Energy.Active.Import.Register"


def event(
    station_id: str,
    transaction_id: str,
    seq_no: int,
    at: dt.datetime,
    *readings: dict[str, Any],
    event_type: str = "Updated",
) -> TransactionEventRecord:
    """A TransactionEvent whose one meter value, stamped ``at``, has these sampled values."""
    return tx_event(
        seq_no,
        event_type,
        station_id=station_id,
        transaction_id=transaction_id,
        at=at,
        readings=readings,
    )


def wh(value: float, **more: Any) -> dict[str, Any]:
    return {"value": value, "measurand": REGISTER, **more}


@pytest.fixture
def writer(database_url: str) -> Iterator[BatchWriter]:
    w = BatchWriter(database_url)
    yield w
    w.close()


@pytest.fixture
def pool(database_url: str) -> Iterator[DatabasePool]:
    p = DatabasePool(database_url, size=2)
    yield p
    p.close()


def store(writer: BatchWriter, *records: Any) -> None:
    batch = Batch([[r] for r in records])
    writer.write(batch)
    assert batch.results == [None] * len(records)


class Reads:
    """The tally's reads, on the real database, noted by function name."""

    def __init__(self, pool: DatabasePool) -> None:
        self.pool = pool
        self.calls: list[str] = []

    async def __call__(self, fn: Any, *args: Any) -> Any:
        self.calls.append(fn.__name__)
        return await self.pool.run(fn, *args)


async def test_energy_of_the_day_counts_each_transaction_from_its_first_reading_since_midnight(
    writer, pool
):
    store(writer, *(StationUpsert(s, MIDNIGHT - 6 * HOUR) for s in ("E1", "E2")))
    store(
        writer,
        # across midnight: only what was delivered after it counts (11,000 - 10,000 Wh)
        event("E1", "overnight", 0, MIDNIGHT - HOUR, wh(5_000), event_type="Started"),
        event("E1", "overnight", 1, MIDNIGHT + HOUR, wh(10_000)),
        # other measurands are not the register (a sampled value without one is)
        event(
            "E1",
            "overnight",
            2,
            MIDNIGHT + 2 * HOUR,
            {"value": 7_000, "measurand": "SoC"},
            {"value": 11_000},
        ),
        event("E1", "yesterday", 0, MIDNIGHT - 5 * HOUR, wh(0), event_type="Started"),
        event("E1", "yesterday", 1, MIDNIGHT - 4 * HOUR, wh(9_000), event_type="Ended"),
        # in kWh: scaled as the stored meter values are (3,200 - 200 Wh)
        event(
            "E2",
            "morning",
            0,
            MIDNIGHT + HOUR,
            wh(0.2, unitOfMeasure={"unit": "kWh", "multiplier": 3}),
            event_type="Started",
        ),
        event("E2", "morning", 1, MIDNIGHT + 3 * HOUR, wh(3_200), event_type="Ended"),
        # no register reading at all: nothing delivered that the tally can tell
        event("E2", "silent", 0, MIDNIGHT + HOUR, event_type="Started"),
    )
    tally = EnergyTally(Reads(pool))
    assert await tally.total(MIDNIGHT) == Decimal(4_000)
    assert tally.transactions == 2
    # the next day starts from nothing
    assert await tally.total(MIDNIGHT + 24 * HOUR) == Decimal(0)


async def test_a_refresh_reads_only_the_events_stored_since_the_previous_one(writer, pool):
    """Back-to-back transactions on a busy station, then more: each refresh reads the new
    events (one range of ids), none when nothing was stored, and a transaction whose events
    come in over several refreshes counts from its first reading to its last."""
    minute = dt.timedelta(minutes=1)
    store(writer, StationUpsert("B1", MIDNIGHT))
    for i in range(20):
        start = MIDNIGHT + HOUR + i * 10 * minute
        base = 100_000 + 1_000 * i
        store(
            writer,
            event("B1", f"t{i}", 0, start, wh(base), event_type="Started"),
            event("B1", f"t{i}", 1, start + 4 * minute, wh(base + 200)),
            event("B1", f"t{i}", 2, start + 8 * minute, wh(base + 500), event_type="Ended"),
        )
    reads = Reads(pool)
    tally = EnergyTally(reads)
    assert await tally.total(MIDNIGHT) == Decimal(20 * 500)
    assert reads.calls.count("register_spans") == 1

    reads.calls.clear()
    assert await tally.total(MIDNIGHT) == Decimal(20 * 500)
    assert "register_spans" not in reads.calls

    late = MIDNIGHT + 6 * HOUR
    store(writer, event("B1", "long", 0, late, wh(1_000), event_type="Started"))
    assert await tally.total(MIDNIGHT) == Decimal(20 * 500)
    store(writer, event("B1", "long", 1, late + HOUR, wh(8_000)))
    assert await tally.total(MIDNIGHT) == Decimal(20 * 500 + 7_000)
    store(writer, event("B1", "long", 2, late + 2 * HOUR, wh(9_500), event_type="Ended"))
    assert await tally.total(MIDNIGHT) == Decimal(20 * 500 + 8_500)


async def test_an_event_committed_after_a_later_one_is_still_counted(writer, pool, database_url):
    """Ids are taken at insert, not at commit: an event still being written when the tally
    reads past its id is picked up once it is committed, and counted once."""
    store(writer, StationUpsert("H1", MIDNIGHT))
    store(writer, event("H1", "slow", 0, MIDNIGHT + HOUR, wh(100), event_type="Started"))
    tally = EnergyTally(Reads(pool))
    assert await tally.total(MIDNIGHT) == Decimal(0)
    with connect(database_url) as slow:
        # another node's write, in progress: its id is taken, it is not visible yet
        slow.execute(
            "INSERT INTO transaction_events (station_id, transaction_id, seq_no, event_type,"
            " timestamp, trigger_reason, payload) VALUES ('H1', 'slow', 1, 'Updated', %s,"
            " 'MeterValuePeriodic', %s::jsonb)",
            (
                MIDNIGHT + 2 * HOUR,
                '{"meterValue": [{"timestamp": "2026-03-02T05:00:00Z",'
                ' "sampledValue": [{"value": 600}]}]}',
            ),
        )
        store(writer, event("H1", "fast", 0, MIDNIGHT + HOUR, wh(0), event_type="Started"))
        store(writer, event("H1", "fast", 1, MIDNIGHT + 2 * HOUR, wh(50)))
        assert await tally.total(MIDNIGHT) == Decimal(50)
        slow.commit()
    assert await tally.total(MIDNIGHT) == Decimal(50 + 500)
    assert await tally.total(MIDNIGHT) == Decimal(50 + 500)


async def test_a_look_gets_the_previous_total_while_the_refresh_runs_in_the_background(
    writer, pool
):
    store(writer, StationUpsert("G1", MIDNIGHT))
    store(writer, event("G1", "a", 0, MIDNIGHT + HOUR, wh(0), event_type="Started"))
    store(writer, event("G1", "a", 1, MIDNIGHT + 2 * HOUR, wh(300)))
    started: list[Any] = []
    tally = EnergyTally(Reads(pool), spawn=lambda fn, *args: started.append((fn, args)))
    # the first look at a day waits for its total
    assert await tally.latest(MIDNIGHT, 60.0) == Decimal(300)
    assert started == []
    store(writer, event("G1", "a", 2, MIDNIGHT + 3 * HOUR, wh(800)))
    # a recent total is served as it is; an older one too, with a refresh started behind it
    assert await tally.latest(MIDNIGHT, 60.0) == Decimal(300)
    assert started == []
    assert await tally.latest(MIDNIGHT, 0.0) == Decimal(300)
    assert await tally.latest(MIDNIGHT, 0.0) == Decimal(300)
    assert len(started) == 1  # one refresh at a time
    fn, args = started.pop()
    await fn(*args)
    assert await tally.latest(MIDNIGHT, 60.0) == Decimal(800)
