"""``RecordWriter``: the sessions' ``updated`` records, written together.

Each record is a session's row and one trail entry. Written one by one, every record cost a
worker-thread call and a transaction of its own, about as much CPU as all the rest of a
reading. Here the records that come in while a batch is being written go into the next one: one
worker-thread call, one transaction and one SQL statement for all of them (group commit: no
wait is added when the node is idle, and the busier it is, the larger the batches). A session
waits for its batch before it publishes its event, as it waited for its own write.

A batch that fails is written again record by record, so that one bad record fails only its
own session, as before.
"""

from __future__ import annotations

import uuid
from typing import Any

import trio

from csms.actors.database import Database
from csms.runtime import ActorStopped
from csms.services.v2g_session import SessionState

from ._record import store_update, store_updates

__all__ = ["RecordWriter"]

_Record = tuple[uuid.UUID, dict[str, Any], SessionState]


class _Waiting:
    __slots__ = ("done", "error", "record", "stored")

    def __init__(self, record: _Record) -> None:
        self.record = record
        self.done = trio.Event()
        self.stored = False
        self.error: BaseException | None = None


class RecordWriter:
    __slots__ = ("_database", "_pending", "_wake", "batches", "written")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._pending: list[_Waiting] = []
        self._wake = trio.Event()
        #: Batches and records written (a test's and the benchmark's counts).
        self.batches = 0
        self.written = 0

    async def write(
        self, session_id: uuid.UUID, changes: dict[str, Any], state: SessionState
    ) -> None:
        """Store the record; returns once it is committed (raises what its write raised)."""
        waiting = _Waiting((session_id, changes, state))
        self._pending.append(waiting)
        self._wake.set()
        # Not cancelled half-way, as a database call is not: a session that stops meanwhile
        # must not have its last state overwritten by this older one afterwards.
        with trio.CancelScope(shield=True):
            await waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error

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
            for waiting in self._pending:
                waiting.error = ActorStopped("the sessions' record writer stopped")
                waiting.done.set()

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            await self._database.run(store_updates, [w.record for w in batch])
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
                waiting.done.set()
