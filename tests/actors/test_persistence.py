"""The persistence actor against a real PostgreSQL: group commit, acknowledgement after commit,
refused records, a database crash under load, backpressure while down, flush on shutdown."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import trio
import trio.testing

from csms.actors.database import DatabasePool
from csms.actors.persistence import (
    PersistenceSettings,
    persistence_spec,
    store,
    submit,
)
from csms.domain.records import SecurityEventRecord, StationUpsert
from csms.runtime import (
    ActorStopped,
    AskTimeout,
    MailboxFull,
    Rejected,
    Strategy,
    Supervisor,
    WorkerThreads,
)
from csms.storage import EmbeddedPostgres, connect, migrate_url
from csms.storage import transactions as tx_repo
from tests.storage.records import T0, meter, station, tx_event


def count(url: str, table: str) -> int:
    with connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def event(key: int) -> SecurityEventRecord:
    """A record with a unique, checkable key (tech_info)."""
    return SecurityEventRecord("CP001", "Probe", T0, str(key))


def stored_keys(url: str) -> list[int]:
    with connect(url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT tech_info FROM security_events")]


def node(settings: PersistenceSettings, **spec_kw: object):
    spec, status = persistence_spec(settings, **spec_kw)
    return Supervisor(Strategy.ONE_FOR_ONE, [spec], name="node"), status


async def test_store_returns_after_commit_and_writers_share_a_commit(database_url):
    """Ten writers of one record each and a batch size of ten: one transaction commits them all
    (group commit), and every writer sees its row from another connection once store returns."""
    settings = PersistenceSettings(database_url, batch_size=10, flush_interval=math.inf)
    sup, status = node(settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        seen: list[int] = []

        async def writer(n: int) -> None:
            await store(ref, event(n))
            seen.append(count(database_url, "security_events"))

        with trio.fail_after(30):
            async with trio.open_nursery() as writers:
                for n in range(10):
                    writers.start_soon(writer, n)
        assert sorted(stored_keys(database_url)) == list(range(10))
        assert min(seen) == 10  # nobody was acknowledged before the shared commit
        assert status.committed_batches == 1
        assert status.committed_records == 10
        assert status.ready
        await sup.stop()


async def test_a_retried_transaction_event_is_stored_once(database_url):
    """E01: a TransactionEvent sent again (no acknowledgement reached the station) is
    acknowledged again and stored once, meter values included."""
    sup, _ = node(PersistenceSettings(database_url, flush_interval=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        with trio.fail_after(30):
            await store(ref, station(), tx_event(0, "Started"))
            for _ in range(3):
                await store(ref, tx_event(1))
        await sup.stop()
    with connect(database_url) as conn:
        assert [e.seq_no for e in tx_repo.events(conn, "CP001", "tx-1")] == [0, 1]
        assert len(tx_repo.meter_values_by_transaction(conn, "CP001", "tx-1")) == 4


async def test_a_bad_record_fails_its_writer_loudly_and_the_others_are_stored(database_url, caplog):
    settings = PersistenceSettings(database_url, batch_size=3, flush_interval=math.inf)
    sup, status = node(settings)
    outcomes: dict[str, object] = {}

    async def writer(name: str, *records: object) -> None:
        try:
            await store(ref, *records)  # type: ignore[arg-type]
            outcomes[name] = "stored"
        except Rejected as exc:
            outcomes[name] = exc

    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        with trio.fail_after(30):
            await store(ref, station(), meter(n=0), meter(n=1))
            async with trio.open_nursery() as writers:
                writers.start_soon(writer, "good-1", meter(n=2))
                # a 51-character vendor name passes the record but not the column check
                writers.start_soon(writer, "bad", StationUpsert("CP9", T0, vendor_name="v" * 51))
                writers.start_soon(writer, "good-2", meter(n=3))
            # the actor is still running (three records: one full batch)
            await store(ref, meter(n=4), meter(n=5), meter(n=6))
        await sup.stop()
    assert outcomes["good-1"] == outcomes["good-2"] == "stored"
    assert isinstance(outcomes["bad"], Rejected)
    assert "stations_vendor_name_check" in str(outcomes["bad"])
    assert status.rejected_writes == 1
    assert count(database_url, "meter_values") == 7
    assert any("refused" in r.message for r in caplog.records if r.levelname == "ERROR")


async def test_shutdown_flushes_everything_buffered(database_url):
    """Records handed over without waiting (submit) and never filling a batch are written when
    the node stops."""
    settings = PersistenceSettings(database_url, batch_size=10_000, flush_interval=math.inf)
    sup, _ = node(settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        await submit(ref, station())
        for n in range(500):
            await submit(ref, meter(n=n))
        assert count(database_url, "meter_values") == 0
        with trio.fail_after(30):
            await sup.stop()
    assert count(database_url, "meter_values") == 500


async def test_database_down_writers_wait_nothing_is_dropped_and_nothing_falsely_acked(tmp_path):
    """No server behind the URL: the actor reports itself unready, holds max_buffered records,
    then stops taking messages so the mailbox fills and senders wait. Stopping it tells the
    waiting writers their records were not stored."""
    url = f"postgresql://postgres@/postgres?host={tmp_path}"
    settings = PersistenceSettings(
        url, batch_size=2, flush_interval=0, max_buffered=4, retry_initial=0.01, retry_max=0.05
    )
    sup, status = node(settings, mailbox_size=1, shutdown_timeout=0.2)
    results: list[BaseException | None] = []

    async def writer(n: int) -> None:
        try:
            await store(ref, event(n))
            results.append(None)
        except ActorStopped as exc:
            results.append(exc)

    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        with trio.fail_after(30):
            async with trio.open_nursery() as writers:
                for n in range(6):  # 4 held, 1 blocked in receive, 1 in the mailbox
                    writers.start_soon(writer, n)
                await trio.testing.wait_all_tasks_blocked()
                while ref.mailbox_depth < 1:  # the writers reach the mailbox in turn
                    await trio.testing.wait_all_tasks_blocked()
                assert status.buffered == 4
                assert not status.ready
                with pytest.raises(MailboxFull):
                    ref.tell_nowait(event(99))
                await sup.stop()
    assert len(results) == 6
    assert all(isinstance(r, ActorStopped) for r in results)


async def test_a_store_not_committed_in_time_times_out_and_the_records_stay(tmp_path):
    """The actor keeps the writers' deadlines: with the database down, a store with a timeout
    fails with AskTimeout at its deadline (held records included, and a write waiting for room
    in the buffer), while the records already taken stay buffered for a later commit."""
    url = f"postgresql://postgres@/postgres?host={tmp_path}"
    settings = PersistenceSettings(
        url, batch_size=2, flush_interval=0, max_buffered=2, retry_initial=0.01, retry_max=0.05
    )
    sup, status = node(settings, shutdown_timeout=0.2)
    waited: dict[int, float] = {}

    async def writer(n: int, timeout: float) -> None:
        started = trio.current_time()
        with pytest.raises(AskTimeout, match=f"within {timeout} s"):
            await store(ref, event(n), timeout=timeout)
        waited[n] = trio.current_time() - started

    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("persistence")
        with trio.fail_after(30):
            async with trio.open_nursery() as writers:
                writers.start_soon(writer, 1, 0.3)
                writers.start_soon(writer, 2, 0.5)
                await trio.testing.wait_all_tasks_blocked()
                writers.start_soon(writer, 3, 0.2)  # no room: waits in receive, not for ever
        assert status.buffered == 2  # 1 and 2 are still held
        await sup.stop()
    for n, timeout in ((1, 0.3), (2, 0.5), (3, 0.2)):
        assert timeout <= waited[n] < timeout + 1.0


class Acks:
    """Keys acknowledged so far, with a way to wait until there are at least n."""

    def __init__(self) -> None:
        self.keys: set[int] = set()
        self._changed = trio.Event()

    def add(self, key: int) -> None:
        self.keys.add(key)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, n: int) -> None:
        while len(self.keys) < n:
            await self._changed.wait()


async def test_database_crash_under_load_loses_no_acknowledged_record(tmp_path):
    """Kill the database server (immediate stop: every backend dies, no checkpoint) while
    writers keep storing, restart it: every acknowledged record is there exactly once, and the
    writers caught in the outage were acknowledged only after the restart committed them."""
    server = EmbeddedPostgres(tmp_path / "data")
    await trio.to_thread.run_sync(server.start)
    try:
        url = server.url
        await trio.to_thread.run_sync(migrate_url, url)
        settings = PersistenceSettings(
            url, batch_size=50, flush_interval=0.001, retry_initial=0.02, retry_max=0.2
        )
        sup, status = node(settings, threads=WorkerThreads(1, name="db"))
        acks = Acks()
        stop_writing = trio.Event()

        async def writer(w: int) -> None:
            i = 0
            while not stop_writing.is_set():
                key = w * 1_000_000 + i
                await store(ref, event(key))
                acks.add(key)
                i += 1

        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            ref = sup.ref("persistence")
            with trio.fail_after(120):
                async with trio.open_nursery() as writers:
                    for w in range(8):
                        writers.start_soon(writer, w)
                    await acks.wait_for(100)
                    await trio.to_thread.run_sync(server.crash)
                    await status.wait_ready(False)
                    acked_before_restart = set(acks.keys)
                    await trio.to_thread.run_sync(server.restart)
                    await status.wait_ready(True)
                    await acks.wait_for(len(acked_before_restart) + 100)
                    stop_writing.set()
            await sup.stop()
        keys = await trio.to_thread.run_sync(stored_keys, url)
        assert len(keys) == len(set(keys)), "a record was stored twice"
        assert acked_before_restart <= set(keys)
        # every writer finished its last store, so everything written was acknowledged
        assert set(keys) == acks.keys
        assert status.retries > 0
    finally:
        await trio.to_thread.run_sync(server.stop)


async def test_reads_run_on_the_pool(database_url):
    sup, _ = node(PersistenceSettings(database_url, flush_interval=0))
    reads = DatabasePool(database_url, size=2)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            with trio.fail_after(30):
                await store(sup.ref("persistence"), station(), tx_event(0, "Started"))
                async with trio.open_nursery() as readers:
                    for _ in range(4):
                        readers.start_soon(reads.run, tx_repo.get, "CP001", "tx-1")
                tx = await reads.run(tx_repo.get, "CP001", "tx-1")
                values = await reads.run(
                    tx_repo.meter_values_by_station,
                    "CP001",
                    T0,
                    T0 + dt.timedelta(hours=1),
                    measurand="Energy.Active.Import.Register",
                )
            await sup.stop()
    finally:
        reads.close()
    assert tx is not None
    assert tx.state == "Active"
    assert len(values) == 2
