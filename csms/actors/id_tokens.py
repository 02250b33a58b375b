"""Id tokens as the node sees them: a cache in front of the ``id_tokens`` table, kept true by a
listener on the database's change notifications.

``IdTokens`` answers "what is this (idToken, type)?" for the station path (Authorize,
TransactionEvent) and is told of changes: by the REST API synchronously, before it answers, and
by the ``id_tokens`` actor, which LISTENs on ``csms_id_tokens`` (migration 0006 notifies every
insert, update, delete and truncate, whoever makes it: the CLI, another node, plain SQL).

The cache is used only while the listener is listening. Before its first connection, and from
the moment its connection drops until it is back, every lookup reads the database and nothing is
kept; each (re)connection starts from an empty cache, since notifications may have been missed.
Concurrent misses for the same token share one read (unless an invalidation came in between:
a lookup never joins a read that began before the latest change).
"""

from __future__ import annotations

import logging
import random
import selectors
import socket
from collections.abc import Callable

import attrs
import psycopg
import trio
from psycopg import conninfo

from csms.actors.database import Database
from csms.runtime import Actor, ActorContext, ChildSpec, WorkerThreads
from csms.services.id_tokens import IdTokenCache
from csms.storage import Connection, connect, tokens

__all__ = ["CHANNEL", "IdTokenListener", "IdTokens", "id_token_listener_spec"]

log = logging.getLogger("csms.id_tokens")

#: The notification channel of migration 0006; the payload is ``id_token || chr(31) || type``,
#: or empty after a TRUNCATE (everything is forgotten then).
CHANNEL = "csms_id_tokens"
SEPARATOR = "\x1f"


@attrs.define
class _Read:
    """A database read in flight that later lookups of the same token may wait for."""

    generation: int
    done: trio.Event = attrs.field(factory=trio.Event)
    row: tokens.IdTokenRow | None = None
    ok: bool = False


class IdTokens:
    """The node's one id-token cache (shared by every station and the REST API)."""

    def __init__(
        self, database: Database, cache: IdTokenCache[tokens.IdTokenRow] | None = None
    ) -> None:
        self.cache: IdTokenCache[tokens.IdTokenRow] = cache if cache is not None else IdTokenCache()
        self.database = database
        #: Lookups that went to the database (misses, and every lookup while not listening).
        self.database_reads = 0
        #: Change notifications received from the database.
        self.notifications = 0
        self._listening = False
        self._in_flight: dict[tuple[str, str], _Read] = {}
        self._changed = trio.Event()

    @property
    def listening(self) -> bool:
        """True while changes made elsewhere are being heard: only then is anything cached."""
        return self._listening

    async def get(self, id_token: str, type: str) -> tokens.IdTokenRow | None:
        """The token's row (matched case-insensitively), or None when there is no such token."""
        if not self._listening:
            return await self._read(id_token, type)
        cached = self.cache.get(id_token, type)
        if cached is not None:
            return cached.value
        key = (id_token, type)
        generation = self.cache.generation
        read = self._in_flight.get(key)
        if read is not None and read.generation == generation:
            await read.done.wait()
            if read.ok:
                return read.row
            return await self._read(id_token, type)  # its read failed: try on our own
        read = self._in_flight[key] = _Read(generation)
        try:
            read.row = await self._read(id_token, type)
            read.ok = True
        finally:
            if self._in_flight.get(key) is read:
                del self._in_flight[key]
            read.done.set()
        if self._listening:
            self.cache.put(id_token, type, read.row, generation=generation)
        return read.row

    async def _read(self, id_token: str, type: str) -> tokens.IdTokenRow | None:
        self.database_reads += 1
        return await self.database.run(tokens.get_id_token, id_token, type)

    def invalidate(self, id_token: str, type: str) -> None:
        """The token changed: the next lookup reads the database."""
        self.cache.invalidate(id_token, type)

    def notified(self, payload: str) -> None:
        """A notification from the database (``CHANNEL``)."""
        self.notifications += 1
        id_token, separator, type = payload.partition(SEPARATOR)
        if separator:
            self.cache.invalidate(id_token, type)
        else:
            self.cache.clear()
        self._signal()

    def set_listening(self, listening: bool) -> None:
        """Called by the listener on (re)connection and when it loses its connection."""
        self.cache.clear()
        self._listening = listening
        self._signal()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds, checked after every notification and every change
        of ``listening`` (``lambda: ids.notifications > seen``, ``lambda: ids.listening``)."""
        while not condition():
            await self._changed.wait()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


def id_token_listener_spec(
    id_tokens: IdTokens, database_url: str, *, name: str = "id_tokens", **options: float
) -> ChildSpec:
    """The child spec of the listener (one per node); ``options`` go to ``IdTokenListener``."""
    threads = WorkerThreads(1, name="id-token-listener")
    return ChildSpec.actor(
        name,
        lambda: IdTokenListener(id_tokens, database_url, threads=threads, **options),
        kind="id_tokens",
        shutdown_timeout=5,
    )


class IdTokenListener(Actor):
    """LISTENs on ``CHANNEL`` over a dedicated connection and invalidates ``id_tokens``.

    The connection is used from a worker thread that blocks until a notification arrives or the
    actor stops (a socket pair wakes it, so stopping does not wait for a timeout). A dropped
    connection is opened again with backoff; meanwhile the cache is not used.
    """

    background_tasks = True

    def __init__(
        self,
        id_tokens: IdTokens,
        database_url: str,
        *,
        threads: WorkerThreads,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        connect_timeout: float = 5.0,
        poll: float = 60.0,
    ) -> None:
        self.id_tokens = id_tokens
        # TCP keepalives: a peer that vanished without closing is noticed within a minute or so.
        self.url = conninfo.make_conninfo(
            database_url, keepalives=1, keepalives_idle=30, keepalives_interval=10
        )
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.connect_timeout = connect_timeout
        self.poll = poll
        self._threads = threads
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)

    async def on_start(self, ctx: ActorContext) -> None:
        ctx.nursery.start_soon(self._run)
        ctx.nursery.start_soon(self._wake_on_stop)

    async def on_stop(self, reason: BaseException | None) -> None:
        self.id_tokens.set_listening(False)
        self._wake_r.close()
        self._wake_w.close()

    async def _wake_on_stop(self) -> None:
        """The worker thread waits uncancellably: on the actor's stop, wake it up."""
        try:
            await trio.sleep_forever()
        finally:
            self._wake_w.send(b"x")

    async def _run(self) -> None:
        delay = self.retry_initial
        failing = False  # warn once per outage, not at every attempt
        while True:
            try:
                conn = await self._threads.run(self._connect)
            except psycopg.Error as exc:
                if not failing:
                    log.warning("id-token listener cannot connect", extra={"error": str(exc)})
                failing = True
            else:
                delay = self.retry_initial
                failing = False
                try:
                    await self._listen(conn)
                except (psycopg.Error, OSError) as exc:
                    log.warning("id-token listener lost its connection", extra={"error": str(exc)})
                finally:
                    self.id_tokens.set_listening(False)
                    with trio.CancelScope(shield=True):
                        await self._threads.run(conn.close)
            await trio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.retry_max)

    def _connect(self) -> Connection:
        conn = connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            conn.close()
            raise
        return conn

    async def _listen(self, conn: Connection) -> None:
        self.id_tokens.set_listening(True)  # clears what was cached while not listening
        log.info("id-token listener listening", extra={"channel": CHANNEL})
        with selectors.DefaultSelector() as selector:
            selector.register(conn.fileno(), selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                payloads = await self._threads.run(self._wait, conn, selector)
                if payloads is None:
                    return  # woken: the actor is stopping (cancelled at the next checkpoint)
                for payload in payloads:
                    self.id_tokens.notified(payload)

    def _wait(self, conn: Connection, selector: selectors.BaseSelector) -> list[str] | None:
        """On the worker thread: the notifications received (maybe none, after ``poll``
        seconds), or None when woken to stop. Raises when the connection is gone."""
        pending = [n.payload for n in conn.notifies(timeout=0)]
        if pending:
            return pending
        for key, _ in selector.select(self.poll):
            if key.fileobj is self._wake_r:
                return None
        return [n.payload for n in conn.notifies(timeout=0)]
