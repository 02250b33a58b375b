"""Connections: opening them, pointing a URL at another database, and a small blocking pool.

Everything here is synchronous psycopg; the async side runs it on worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from psycopg import conninfo
from psycopg.pq import TransactionStatus

__all__ = ["Connection", "ConnectionPool", "connect", "with_database"]

Connection = psycopg.Connection[Any]
P = ParamSpec("P")
T = TypeVar("T")

APPLICATION_NAME = "csms"


def connect(url: str, *, autocommit: bool = False, connect_timeout: float = 5.0) -> Connection:
    """Open a connection with the settings every csms connection uses."""
    return psycopg.connect(
        url,
        autocommit=autocommit,
        application_name=APPLICATION_NAME,
        connect_timeout=max(1, round(connect_timeout)),
    )


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials as ``url``, another database (URL or key=value in)."""
    return conninfo.make_conninfo(url, dbname=dbname)


class ConnectionPool:
    """At most ``size`` connections, opened on demand and reused; broken ones are dropped.

    Blocking and thread-safe: call it from worker threads. ``run`` wraps one call in one
    transaction (commit on return, rollback on error).
    """

    def __init__(self, url: str, *, size: int = 4, connect_timeout: float = 5.0) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self.url = url
        self.size = size
        self._connect_timeout = connect_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        self._slots.acquire()
        try:
            conn = self._take()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def run(self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kw: P.kwargs) -> T:
        with self.connection() as conn:
            try:
                result = fn(conn, *args, **kw)
            except BaseException:
                if not conn.broken:
                    conn.rollback()
                raise
            conn.commit()
            return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> Connection:
        with self._lock:
            if self._closed:
                raise psycopg.InterfaceError("the connection pool is closed")
            if self._idle:
                return self._idle.pop()
        return connect(self.url, connect_timeout=self._connect_timeout)

    def _give_back(self, conn: Connection) -> None:
        if not conn.closed and not conn.broken:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                try:
                    conn.rollback()
                except psycopg.Error:
                    conn.close()
                    return
            with self._lock:
                if not self._closed:
                    self._idle.append(conn)
                    return
        conn.close()
