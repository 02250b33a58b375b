"""The listener's part of a handshake: station reads coalesced (one query and one thread hop per
batch), and the node's settings handed to the transport."""

from __future__ import annotations

import types

import pytest
import trio
import trio.testing
from psycopg.pq import TransactionStatus

from csms.actors.listener import LoginReadFailed, LoginReads, read_logins, websocket_settings
from csms.config import load_settings
from csms.storage import connect, stations


class FakeReads:
    """Stands in for the login DatabasePool: records each batch, holds the first until released."""

    def __init__(self, rows: dict[str, object]) -> None:
        self.rows = rows
        self.batches: list[list[str]] = []
        self.release = trio.Event()
        self.error: Exception | None = None

    async def run(self, fn, ids):
        assert fn is read_logins
        self.batches.append(list(ids))
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return {i: self.rows[i] for i in ids if i in self.rows}


async def test_handshakes_arriving_during_a_read_share_the_next_one():
    reads = FakeReads({"A": ("hash-a", "row-a"), "B": ("hash-b", "row-b")})
    logins = LoginReads(reads)  # type: ignore[arg-type]
    got: dict[str, object] = {}

    async def get(key: str, station_id: str) -> None:
        got[key] = await logins.get(station_id)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(logins.run)
        nursery.start_soon(get, "a", "A")
        await trio.testing.wait_all_tasks_blocked()
        for key, station_id in (("b1", "B"), ("c", "C"), ("b2", "B")):
            nursery.start_soon(get, key, station_id)
        await trio.testing.wait_all_tasks_blocked()
        assert reads.batches == [["A"]]  # the others wait for the read in flight
        reads.release.set()
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    # One query for the three (trio starts tasks in no set order), B asked for once.
    assert [sorted(batch) for batch in reads.batches] == [["A"], ["B", "C"]]
    assert got == {
        "a": ("hash-a", "row-a"),
        "b1": ("hash-b", "row-b"),
        "c": None,
        "b2": ("hash-b", "row-b"),
    }
    assert (logins.batches, logins.lookups) == (2, 4)


async def test_batches_are_bounded():
    reads = FakeReads({})
    reads.release.set()
    logins = LoginReads(reads, max_batch=2)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        for n in range(5):
            nursery.start_soon(logins.get, f"S{n}")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(logins.run)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert [len(batch) for batch in reads.batches] == [2, 2, 1]
    assert sorted(i for batch in reads.batches for i in batch) == ["S0", "S1", "S2", "S3", "S4"]


async def test_a_failed_read_fails_its_batch_and_the_next_one_is_read_afresh():
    reads = FakeReads({"A": ("hash-a", "row-a")})
    reads.error = RuntimeError("database down")
    reads.release.set()
    logins = LoginReads(reads)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(logins.run)
        with pytest.raises(LoginReadFailed) as info:
            await logins.get("A")
        assert isinstance(info.value.__cause__, RuntimeError)
        reads.error = None
        assert await logins.get("A") == ("hash-a", "row-a")
        nursery.cancel_scope.cancel()


def test_the_accept_rate_reaches_the_transport():
    node = types.SimpleNamespace(settings=load_settings(env={"CSMS_OCPP__MAX_ACCEPT_RATE": "300"}))
    assert websocket_settings(node).max_accept_rate == 300.0  # type: ignore[arg-type]
    node = types.SimpleNamespace(settings=load_settings(env={}))
    assert websocket_settings(node).max_accept_rate == 0.0  # type: ignore[arg-type]


def test_login_reads_run_in_autocommit_in_one_round_trip(database_url):
    with connect(database_url) as conn:
        stations.create(conn, "CP001", password_hash="sha256$00$" + "a" * 64)
        conn.commit()
        found = read_logins(conn, ["CP001", "NOBODY"])
        assert list(found) == ["CP001"]
        assert conn.autocommit
        assert conn.info.transaction_status is TransactionStatus.IDLE  # nothing left open
