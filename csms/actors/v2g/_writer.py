"""``RecordWriter``: the sessions' ``updated`` records, written together.

Each record is a session's row and one trail entry. Written one by one, every record cost a
worker-thread call and a transaction of its own, about as much CPU as all the rest of a
reading. Here the records that come in while a batch is being written go into the next one: one
worker-thread call, one transaction and one SQL statement for all of them, sent with its BEGIN
and COMMIT in one round trip (group commit: no wait is added when the node is idle, and the
busier it is, the larger the batches).

A session hands its record over (``submit``) and goes on with its mailbox: the writer calls it
back once the batch is settled, and the session publishes its event then, after the COMMIT as
before (a session that waited for its write cost a task switch and a shielded scope more a
reading). Batches are written one after the other, so a session's records are stored in the
order it made them; before any other write of its row (or a read it answers with) the session
waits until its records are settled (``settled``), so that an older record never overwrites it.

A batch that fails is written again record by record, so that one bad record fails only its
own session, as before.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import trio

from csms.actors.database import Database
from csms.runtime import ActorStopped
from csms.services.v2g_session import SessionState

from ._record import commit_updates, store_update

__all__ = ["RecordWriter", "Settled"]

log = logging.getLogger("csms.v2g")

_Record = tuple[uuid.UUID, dict[str, Any], SessionState]
#: Called in the writer's task once a record is settled: its state and None when it is
#: committed, else the error its write raised.
Settled = Callable[[SessionState, BaseException | None], None]


class _Waiting:
    __slots__ = ("done", "error", "on_settled", "record", "stored")

    def __init__(self, record: _Record, on_settled: Settled | None) -> None:
        self.record = record
        self.on_settled = on_settled
        self.done = trio.Event()
        self.stored = False
        self.error: BaseException | None = None


class RecordWriter:
    __slots__ = ("_database", "_last", "_pending", "_wake", "batches", "written")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[_Waiting] = []
        #: Each session's last record not yet settled.
        self._last: dict[uuid.UUID, _Waiting] = {}
        self._wake = trio.Event()
        #: Batches and records written (a test's and the benchmark's counts).
        self.batches = 0
        self.written = 0

    def submit(
        self,
        session_id: uuid.UUID,
        changes: dict[str, Any],
        state: SessionState,
        on_settled: Settled | None = None,
    ) -> None:
        """Hand the record over without waiting; ``on_settled`` is told how it went."""
        self._submit((session_id, changes, state), on_settled)

    def _submit(self, record: _Record, on_settled: Settled | None) -> _Waiting:
        waiting = _Waiting(record, on_settled)
        self._pending.append(waiting)
        self._last[record[0]] = waiting
        self._wake.set()
        return waiting

    async def write(
        self, session_id: uuid.UUID, changes: dict[str, Any], state: SessionState
    ) -> None:
        """Store the record; returns once it is committed (raises what its write raised)."""
        waiting = self._submit((session_id, changes, state), None)
        # Not cancelled half-way, as a database call is not: a session that stops meanwhile
        # must not have its last state overwritten by this older one afterwards.
        with trio.CancelScope(shield=True):
            await waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error

    async def settled(self, session_id: uuid.UUID) -> None:
        """Return once every record of the session handed over so far is settled (stored or
        failed); not cancelled half-way, for the same reason as ``write``."""
        waiting = self._last.get(session_id)
        if waiting is not None:
            with trio.CancelScope(shield=True):
                await waiting.done.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                batch, self._pending = self._pending, []
                if batch:
                    await self._write(batch)
        finally:
            # the node stops: nobody waits for ever
            pending, self._pending = self._pending, []
            for waiting in pending:
                waiting.error = ActorStopped("the sessions' record writer stopped")
                self._settle(waiting)

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            await self._database.run(commit_updates, [w.record for w in batch])
            for waiting in batch:
                waiting.stored = True
            self.batches += 1
            self.written += len(batch)
        except Exception:
            for waiting in batch:
                try:
                    await self._database.run(store_update, *waiting.record)
                    waiting.stored = True
                except Exception as exc:
                    waiting.error = exc
        finally:
            for waiting in batch:
                if not waiting.stored and waiting.error is None:
                    waiting.error = ActorStopped("the sessions' record writer stopped")
                self._settle(waiting)

    def _settle(self, waiting: _Waiting) -> None:
        session_id = waiting.record[0]
        if self._last.get(session_id) is waiting:
            del self._last[session_id]
        waiting.done.set()
        if waiting.on_settled is not None:
            try:
                waiting.on_settled(waiting.record[2], waiting.error)
            except Exception:  # a session's fault must not stop the other sessions' records
                log.exception("discharge session record callback failed")
