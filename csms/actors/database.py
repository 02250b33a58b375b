"""The actor layer's database: repository calls (``csms.storage``'s modules), reads and the
few writes that do not go through the persistence actor (a station's new password, a deleted
station, API tokens), each in one transaction, off the trio thread.

``Database`` is what the station handlers, the id-token cache and the listener are given;
``DatabasePool`` fills it in on PostgreSQL; ``InMemoryDatabase`` answers from functions a test
registers, for tests of handlers where the database is not what is tested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from csms.runtime import WorkerThreads
from csms.storage import Connection, ConnectionPool

__all__ = ["Database", "DatabasePool", "InMemoryDatabase"]

P = ParamSpec("P")
T = TypeVar("T")


class Database(Protocol):
    """``await database.run(stations.get, "CP001")`` runs ``stations.get(conn, "CP001")`` in
    one transaction and returns its result."""

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...


class DatabasePool:
    """Repository calls, reads and writes, on a few pooled PostgreSQL connections, on worker
    threads."""

    def __init__(
        self, database_url: str, *, size: int = 4, threads: WorkerThreads | None = None
    ) -> None:
        self._pool = ConnectionPool(database_url, size=size)
        self._threads = threads if threads is not None else WorkerThreads(size, name="db")

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if kwargs:
            return await self._threads.run(lambda: self._pool.run(fn, *args, **kwargs))
        return await self._threads.run(self._pool.run, fn, *args)

    def close(self) -> None:
        self._pool.close()


class InMemoryDatabase:
    """Answers each repository function with the function registered for it (called with the
    same arguments, without the connection); any other call raises ``LookupError`` naming the
    function, so a test never passes on a call it did not expect. ``calls`` lists the calls
    made, as (function name, arguments)."""

    def __init__(self, answers: dict[Callable[..., Any], Callable[..., Any]] | None = None) -> None:
        self.answers: dict[Callable[..., Any], Callable[..., Any]] = dict(answers or {})
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        self.calls.append((fn.__name__, args))
        try:
            answer = self.answers[fn]
        except KeyError:
            raise LookupError(f"InMemoryDatabase has no answer for {fn.__qualname__}") from None
        result: T = answer(*args, **kwargs)
        return result
