"""The persistence actor: the node's only PostgreSQL writer, with group commit.

Writers hand it typed records (``csms.domain.records``). It buffers them and flushes a batch when
``batch_size`` records are waiting or ``flush_interval`` has passed since the oldest arrived, one
transaction per batch, on a worker thread. ``store`` returns only after the COMMIT of the batch
holding the records, so a station can be acknowledged once its data is durable; many writers share
one commit (group commit).

While the database is unreachable the batch is kept and retried with backoff, ``status.ready``
goes false, and once ``max_buffered`` records are held new writers wait (backpressure): nothing
is dropped. Records the database refuses (a constraint) fail loudly for their writer only
(``Rejected``) while the rest of the batch is committed. On stop, everything buffered is flushed
within the child's shutdown timeout; writers whose records could not be stored by then get
``ActorStopped``, never a false acknowledgement.

Reads do not go through the actor: ``csms.actors.database.DatabasePool`` runs repository
functions on a small pool of connections off the trio thread.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from csms.domain.records import Record, TransactionEventRecord
from csms.runtime import (
    Actor,
    ActorContext,
    ActorRef,
    ActorStopped,
    AskTimeout,
    ChildSpec,
    MailboxFull,
    Rejected,
    Reply,
    WorkerThreads,
)
from csms.storage import Batch, BatchWriter, TransientError

__all__ = [
    "PersistenceActor",
    "PersistenceSettings",
    "PersistenceStatus",
    "Write",
    "persistence_spec",
    "store",
    "submit",
]

log = logging.getLogger("csms.persistence")

#: Test only (tests/soak): the next TransactionEvent is left out of its batch yet acknowledged,
#: a loss made on purpose that the soak's ledger must catch. Nothing but a test sets it.
LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST = False


@attrs.frozen
class PersistenceSettings:
    database_url: str
    batch_size: int = attrs.field(default=5000, validator=attrs.validators.ge(1))
    flush_interval: float = attrs.field(default=0.002, validator=attrs.validators.ge(0))
    # records held in memory (buffered and in flight) before writers are made to wait
    max_buffered: int = attrs.field(default=50_000, validator=attrs.validators.ge(1))
    retry_initial: float = 0.05
    retry_max: float = 2.0
    connect_timeout: float = 5.0


@attrs.define
class PersistenceStatus:
    """Shared with the rest of the node (``/readyz``, metrics); outlives actor restarts."""

    buffered: int = 0
    committed_records: int = 0
    committed_batches: int = 0
    #: committed batches written whole in one pipeline (the fast path) ...
    fast_path_batches: int = 0
    #: ... and those refused whole and replayed group by group (a bad record was in them)
    replayed_batches: int = 0
    rejected_writes: int = 0
    retries: int = 0
    last_error: str | None = None
    _ready: bool = False
    _changed: trio.Event = attrs.field(factory=trio.Event, repr=False)

    @property
    def ready(self) -> bool:
        """True while the database accepts writes."""
        return self._ready

    def set_ready(self, ready: bool) -> None:
        if ready != self._ready:
            self._ready = ready
            self._changed.set()
            self._changed = trio.Event()

    async def wait_ready(self, ready: bool = True) -> None:
        """Return once ``ready`` has this value."""
        while self._ready != ready:
            await self._changed.wait()


@attrs.frozen
class Write:
    """Records stored together: all of them or none. As an ``ask`` it is answered (a deferred
    reply) when the batch holding them is committed, or with ``Rejected`` if it was refused.

    ``deadline`` (trio's clock) is when the asker stops waiting: a receipt still open then is
    failed with ``AskTimeout`` by the actor (see ``store``)."""

    records: tuple[Record, ...]
    receipt: bool = True
    deadline: float = math.inf
    timeout: float = math.inf  # what the deadline came from, for the error message


async def store(ref: ActorRef, *records: Record, timeout: float = math.inf) -> None:
    """Store ``records`` durably: return after COMMIT.

    Raises ``Rejected`` when the database refused them, ``ActorStopped`` when the actor stopped
    before storing them, ``AskTimeout`` (a ``TimeoutError``) after ``timeout`` seconds. After a
    timeout the records may still be stored later; every record kind is safe to send again.

    The timeout is kept by the actor, not by a cancel scope per call: with a deadline per
    waiting station in trio's heap that scope was a third of a store's cost (19-22 us against
    13.5 us, 200 writers), on the path of every TransactionEvent. The write carries its
    deadline; the actor fails a receipt still open then and bounds by it a wait for room in its
    buffer. Only when the mailbox is full (the write would wait to be enqueued) does the caller
    bound the wait itself.
    """
    if timeout == math.inf:
        await ref.ask(Write(records), timeout=None)
        return
    if not ref.full:
        deadline = trio.current_time() + timeout
        await ref.ask(Write(records, deadline=deadline, timeout=timeout), timeout=None)
        return
    try:
        await ref.ask(Write(records), timeout=timeout)
    except AskTimeout:
        raise AskTimeout(f"records not stored within {timeout} s") from None


async def submit(ref: ActorRef, *records: Record) -> None:
    """Hand records over without waiting for the commit (waits only while the mailbox is full).

    With room in the mailbox this returns without a schedule point: a station submits its
    command audit this way and always awaits something next.
    """
    message = Write(records, receipt=False)
    try:
        ref.tell_nowait(message)
    except MailboxFull:
        await ref.tell(message)


def persistence_spec(
    settings: PersistenceSettings,
    *,
    threads: WorkerThreads | None = None,
    status: PersistenceStatus | None = None,
    name: str = "persistence",
    mailbox_size: int = 1000,
    shutdown_timeout: float = 10.0,
) -> tuple[ChildSpec, PersistenceStatus]:
    """The child spec of the persistence actor and the status object it keeps up to date."""
    status = status if status is not None else PersistenceStatus()
    threads = threads if threads is not None else WorkerThreads(1, name="db-writer")
    spec = ChildSpec.actor(
        name,
        lambda: PersistenceActor(settings, threads=threads, status=status),
        kind="persistence",
        mailbox_size=mailbox_size,
        shutdown_timeout=shutdown_timeout,
    )
    return spec, status


class PersistenceActor(Actor):
    background_tasks = True  # the flush loop runs beside the mailbox

    def __init__(
        self,
        settings: PersistenceSettings,
        *,
        threads: WorkerThreads,
        status: PersistenceStatus | None = None,
    ) -> None:
        self.settings = settings
        self.status = status if status is not None else PersistenceStatus()
        self._threads = threads
        self._writer = BatchWriter(settings.database_url, connect_timeout=settings.connect_timeout)
        # (records, receipt) per write, in arrival order; the in-flight batch is out of it
        self._buffer: deque[tuple[tuple[Record, ...], Reply | None]] = deque()
        self._buffered_records = 0  # in _buffer only
        self._held = 0  # in _buffer and in flight
        self._oldest_at = math.inf
        self._has_data = trio.Event()
        self._full = trio.Event()
        self._space = trio.Event()
        self._in_flight: tuple[Batch, list[Reply | None]] | None = None
        # (deadline, timeout, receipt) of the writes with a deadline, in arrival order (every
        # station has the same timeout, so deadlines come in order); settled ones are dropped
        # from the front as writes arrive, the rest by the deadline loop
        self._deadlines: deque[tuple[float, float, Reply]] = deque()
        self._deadline_added = trio.Event()
        self._ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        self.status.buffered = 0
        ctx.nursery.start_soon(self._flush_loop)
        ctx.nursery.start_soon(self._deadline_loop)

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, Write):
            raise Rejected(f"persistence does not handle {type(message).__name__}")
        assert self._ctx is not None
        if self._held >= self.settings.max_buffered:
            with trio.move_on_at(message.deadline):
                while self._held >= self.settings.max_buffered:
                    await self._space.wait()
            if self._held >= self.settings.max_buffered and message.receipt:
                self._ctx.defer_reply().fail(_timed_out(message.timeout))  # the asker's time is up
                return None
            while self._held >= self.settings.max_buffered:  # a told write waits on
                await self._space.wait()
        receipt = self._ctx.defer_reply() if message.receipt else None
        self._accept(message.records, receipt)
        if receipt is not None and message.deadline != math.inf:
            self._keep_deadline(message, receipt)
        return None

    def receive_ask_nowait(self, message: Any, reply: Reply) -> bool:
        # A store with room in the buffer is only bookkeeping too (its answer comes at COMMIT):
        # taken in the asker's task, the actor's task is not woken for it (a task switch less
        # on the path of every TransactionEvent).
        if type(message) is not Write or not message.receipt:
            return False
        if self._held >= self.settings.max_buffered:
            return False
        self._accept(message.records, reply)
        if message.deadline != math.inf:
            self._keep_deadline(message, reply)
        return True

    def _keep_deadline(self, message: Write, receipt: Reply) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].done:
            deadlines.popleft()
        deadlines.append((message.deadline, message.timeout, receipt))
        if len(deadlines) == 1:
            self._deadline_added.set()

    def receive_nowait(self, message: Any) -> bool:
        # A fire-and-forget write with room in the buffer is only bookkeeping: taken in the
        # writer's task, the actor is not woken for it.
        if type(message) is not Write or message.receipt:
            return False
        if self._held >= self.settings.max_buffered:
            return False
        self._accept(message.records, None)
        return True

    def _accept(self, records: tuple[Record, ...], receipt: Reply | None) -> None:
        self._buffer.append((records, receipt))
        n = len(records)
        self._buffered_records += n
        self._held += n
        self.status.buffered = self._held
        if not self._has_data.is_set():
            self._oldest_at = trio.current_time()
            self._has_data.set()
        if self._buffered_records >= self.settings.batch_size:
            self._full.set()

    async def on_stop(self, reason: BaseException | None) -> None:
        try:
            if self._in_flight is not None:
                await self._flush(*self._in_flight)
            while self._buffer:
                await self._flush(*self._take_batch())
        finally:
            self._abandon_all()
            self._writer.close()

    async def _deadline_loop(self) -> None:
        """Fail the receipts still open at their deadline (their writers stop waiting then;
        the records stay buffered and may still be stored)."""
        deadlines = self._deadlines
        while True:
            while deadlines and deadlines[0][2].done:
                deadlines.popleft()
            if not deadlines:
                self._deadline_added = trio.Event()
                await self._deadline_added.wait()
                continue
            await trio.sleep_until(deadlines[0][0])
            now = trio.current_time()
            while deadlines and (deadlines[0][2].done or deadlines[0][0] <= now):
                _, timeout, receipt = deadlines.popleft()
                if not receipt.done:
                    receipt.fail(_timed_out(timeout))

    # -- flushing -------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        probe_delay = self.settings.retry_initial
        while True:
            if not self.status.ready and not self._buffer:
                # nothing to write, but /readyz wants to know when the database is back
                await self._probe()
                if not self.status.ready:
                    with trio.move_on_after(probe_delay * random.uniform(0.5, 1.0)):
                        await self._has_data.wait()
                    probe_delay = min(probe_delay * 2, self.settings.retry_max)
                    continue
            probe_delay = self.settings.retry_initial
            # Records that are already due go out without a schedule point (a turn of a busy
            # loop is milliseconds, and the writer would wait for it with nothing to write):
            # after a batch, what arrived meanwhile has waited for it already (_take_batch).
            if not self._has_data.is_set():
                await self._has_data.wait()
            due = self._oldest_at + self.settings.flush_interval
            if self._buffered_records < self.settings.batch_size and trio.current_time() < due:
                with trio.move_on_at(due):
                    await self._full.wait()
            await self._flush(*self._take_batch())

    def _take_batch(self) -> tuple[Batch, list[Reply | None]]:
        groups: list[tuple[Record, ...]] = []
        receipts: list[Reply | None] = []
        size = 0
        limit = self.settings.batch_size
        while self._buffer and (size == 0 or size + len(self._buffer[0][0]) <= limit):
            records, receipt = self._buffer.popleft()
            groups.append(records)
            receipts.append(receipt)
            size += len(records)
        self._buffered_records -= size
        if not self._buffer:
            self._has_data = trio.Event()
            self._oldest_at = math.inf
        else:
            # what is left has waited for this batch already: flush it without further delay
            self._oldest_at = trio.current_time() - self.settings.flush_interval
        if self._buffered_records < self.settings.batch_size and self._full.is_set():
            self._full = trio.Event()
        batch = Batch(list(groups))
        self._in_flight = (batch, receipts)
        return batch, receipts

    async def _flush(self, batch: Batch, receipts: list[Reply | None]) -> None:
        """Write until settled. Runs to completion even when cancelled mid-write (the worker
        thread is waited for), and whatever settled is acknowledged in ``finally``."""
        if LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST and _lose_a_transaction_event(batch):
            self._release(1)
        try:
            await self._write_until_settled(batch)
        finally:
            if batch.settled:
                self._settle(batch, receipts)

    async def _write_until_settled(self, batch: Batch) -> None:
        delay = self.settings.retry_initial
        while True:
            try:
                await self._threads.run(self._writer.write, batch)
            except TransientError as exc:
                self._unready(exc)
                await trio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self.settings.retry_max)
                continue
            self.status.set_ready(True)
            return

    async def _probe(self) -> None:
        try:
            await self._threads.run(self._writer.write, Batch([]))
        except TransientError as exc:
            self._unready(exc)
        else:
            self.status.set_ready(True)
            self.status.last_error = None

    def _unready(self, exc: BaseException) -> None:
        if self.status.ready:
            log.error("database unreachable, holding writes", extra={"error": str(exc)})
        self.status.set_ready(False)
        self.status.retries += 1
        self.status.last_error = str(exc)

    def _settle(self, batch: Batch, receipts: list[Reply | None]) -> None:
        assert batch.results is not None
        if self._in_flight is not None and self._in_flight[0] is batch:
            self._in_flight = None
        stored = 0
        for records, receipt, error in zip(batch.groups, receipts, batch.results, strict=True):
            if error is None:
                stored += len(records)
                if receipt is not None:
                    receipt.resolve(None)
                continue
            self.status.rejected_writes += 1
            log.error(
                "write refused by the database",
                extra={"records": len(records), "error": str(error)},
            )
            rejected = Rejected(f"the database refused the records: {error}")
            rejected.__cause__ = error
            if receipt is not None:
                receipt.fail(rejected)
        if batch.groups:
            self.status.committed_batches += 1
            if batch.replayed:
                self.status.replayed_batches += 1
            else:
                self.status.fast_path_batches += 1
        self.status.committed_records += stored
        self._release(batch.size)

    def _release(self, n: int) -> None:
        self._held -= n
        self.status.buffered = self._held
        if self._held < self.settings.max_buffered:
            self._space.set()
            self._space = trio.Event()

    def _abandon_all(self) -> None:
        """Whatever could not be stored before the deadline: tell the writers, never pretend."""
        leftover: list[tuple[Sequence[Record], Reply | None]] = list(self._buffer)
        if self._in_flight is not None:
            batch, receipts = self._in_flight
            leftover.extend(zip(batch.groups, receipts, strict=True))
            self._in_flight = None
        self._buffer.clear()
        self._buffered_records = 0
        lost = 0
        for records, receipt in leftover:
            lost += len(records)
            if receipt is not None:
                receipt.fail(ActorStopped("persistence stopped before storing the records"))
        if lost:
            log.error("persistence stopped with records not stored", extra={"records": lost})
        self._release(lost)


def _lose_a_transaction_event(batch: Batch) -> bool:
    """The test-only loss (see ``LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST``)."""
    global LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST
    for i, group in enumerate(batch.groups):
        for j, record in enumerate(group):
            if type(record) is TransactionEventRecord:
                batch.groups[i] = (*group[:j], *group[j + 1 :])
                LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST = False
                return True
    return False


def _timed_out(timeout: float) -> AskTimeout:
    return AskTimeout(f"records not stored within {timeout} s")
