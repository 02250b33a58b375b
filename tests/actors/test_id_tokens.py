"""The node's id-token lookups (``IdTokens``) and the listener that keeps them true.

The lookups are driven with a fake read pool whose reads wait until the test lets them finish,
so concurrent misses and invalidations during a read happen exactly where the test puts them.
The listener runs against the real database.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from csms.actors.id_tokens import IdTokens, id_token_listener_spec
from csms.runtime import Strategy, Supervisor
from csms.storage import connect, tokens

ROW = tokens.IdTokenRow("TAG1", "ISO14443", "Accepted", None, None, None)
BLOCKED = tokens.IdTokenRow("TAG1", "ISO14443", "Blocked", None, None, None)


class HeldReads:
    """Stands in for the DatabasePool: each read answers ``answer`` once ``release`` is called."""

    def __init__(self, answer: tokens.IdTokenRow | None) -> None:
        self.answer = answer
        self.calls = 0
        self.fail: Exception | None = None
        self._release = trio.Event()

    def release(self) -> None:
        self._release.set()
        self._release = trio.Event()

    async def run(self, fn: Any, *args: Any) -> Any:
        assert fn is tokens.get_id_token
        self.calls += 1
        answer, fail = self.answer, self.fail
        await self._release.wait()
        if fail is not None:
            raise fail
        return answer


def listening(reads: HeldReads) -> IdTokens:
    ids = IdTokens(reads)  # type: ignore[arg-type]
    ids.set_listening(True)
    return ids


async def test_without_a_listener_every_lookup_reads_the_database() -> None:
    reads = HeldReads(ROW)
    ids = IdTokens(reads)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        for _ in range(2):
            nursery.start_soon(ids.get, "TAG1", "ISO14443")
            await trio.testing.wait_all_tasks_blocked()
            reads.release()
    assert reads.calls == 2
    assert len(ids.cache) == 0


async def test_concurrent_misses_for_one_token_share_one_read() -> None:
    reads = HeldReads(ROW)
    ids = listening(reads)
    answers: list[Any] = []

    async def look_up() -> None:
        answers.append(await ids.get("TAG1", "ISO14443"))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(look_up)
        await trio.testing.wait_all_tasks_blocked()
        assert reads.calls == 1
        reads.release()
    assert answers == [ROW] * 5
    assert await ids.get("TAG1", "ISO14443") == ROW  # cached: no read to release
    assert (reads.calls, ids.database_reads) == (1, 1)


async def test_a_lookup_after_an_invalidation_does_not_wait_for_an_older_read() -> None:
    """The read that began before the token was blocked answers its own caller only; a lookup
    made after the change reads again, and only that answer is kept."""
    reads = HeldReads(ROW)
    ids = listening(reads)
    answers: dict[str, Any] = {}

    async def look_up(name: str) -> None:
        answers[name] = await ids.get("TAG1", "ISO14443")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(look_up, "before")
        await trio.testing.wait_all_tasks_blocked()
        reads.answer = BLOCKED  # the change is committed...
        ids.invalidate("TAG1", "ISO14443")  # ...and announced while the first read is out
        nursery.start_soon(look_up, "after")
        await trio.testing.wait_all_tasks_blocked()
        assert reads.calls == 2
        reads.release()
    assert answers == {"before": ROW, "after": BLOCKED}
    assert ids.cache.get("TAG1", "ISO14443").value == BLOCKED  # type: ignore[union-attr]


async def test_waiters_read_on_their_own_when_the_shared_read_fails() -> None:
    reads = HeldReads(ROW)
    ids = listening(reads)
    reads.fail = OSError("connection lost")
    results: list[Any] = []

    async def look_up() -> None:
        try:
            results.append(await ids.get("TAG1", "ISO14443"))
        except OSError as exc:
            results.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(look_up)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(look_up)
        await trio.testing.wait_all_tasks_blocked()
        reads.fail = None
        reads.release()  # the first fails; the waiter reads again
        await trio.testing.wait_all_tasks_blocked()
        reads.release()
    assert isinstance(results[0], OSError)
    assert results[1:] == [ROW]
    assert reads.calls == 2


async def test_notifications_invalidate_one_token_or_everything() -> None:
    reads = HeldReads(None)
    ids = listening(reads)
    for token in ("TAG1", "TAG2"):
        ids.cache.put(token, "ISO14443", None, generation=ids.cache.generation)
    ids.notified("tag1\x1fISO14443")
    assert ids.cache.get("TAG1", "ISO14443") is None
    assert ids.cache.get("TAG2", "ISO14443") is not None
    ids.notified("")  # TRUNCATE
    assert len(ids.cache) == 0
    assert ids.notifications == 2


async def test_the_listener_hears_every_kind_of_change_and_stops_at_once(database_url) -> None:
    """Migration 0006's trigger: INSERT, UPDATE, DELETE and TRUNCATE are all announced, from a
    connection that is not the node's; stopping the listener does not wait for a timeout."""
    ids = IdTokens(HeldReads(None))  # type: ignore[arg-type]
    root = Supervisor(
        Strategy.ONE_FOR_ONE, [id_token_listener_spec(ids, database_url, poll=60)], name="t"
    )
    heard: list[str] = []
    notified = ids.notified

    def note(payload: str) -> None:
        heard.append(payload)
        notified(payload)

    ids.notified = note  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        with trio.fail_after(10):
            await ids.wait_for(lambda: ids.listening)
            with connect(database_url) as conn:
                tokens.upsert_id_token(conn, "TAG1", "ISO14443")
                conn.commit()
                tokens.upsert_id_token(conn, "TAG1", "ISO14443", status="Blocked")
                conn.commit()
                tokens.delete_id_token(conn, "TAG1", "ISO14443")
                conn.commit()
                conn.execute("TRUNCATE id_tokens")
                conn.commit()
            await ids.wait_for(lambda: len(heard) == 4)
        assert heard == ["TAG1\x1fISO14443"] * 3 + [""]
        with trio.fail_after(2):  # well under the poll interval of 60 s
            await root.stop()
    assert not ids.listening


async def test_the_listener_reconnects_and_starts_from_an_empty_cache(database_url) -> None:
    """A dropped connection: the cache is bypassed until the listener is back, then starts
    empty, since changes made meanwhile were not heard."""
    ids = IdTokens(HeldReads(None))  # type: ignore[arg-type]
    spec = id_token_listener_spec(ids, database_url, retry_initial=0.01)
    root = Supervisor(Strategy.ONE_FOR_ONE, [spec], name="t")
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        with trio.fail_after(10):
            await ids.wait_for(lambda: ids.listening)
            ids.cache.put("TAG1", "ISO14443", ROW, generation=ids.cache.generation)
            with connect(database_url, autocommit=True) as conn:
                killed = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query = 'LISTEN csms_id_tokens'"
                ).fetchall()
            assert killed == [(True,)]
            await ids.wait_for(lambda: ids.listening and len(ids.cache) == 0)
            # and it hears changes again
            seen = ids.notifications
            with connect(database_url) as conn:
                tokens.upsert_id_token(conn, "TAG2", "ISO14443")
                conn.commit()
            await ids.wait_for(lambda: ids.notifications > seen)
        await root.stop()
