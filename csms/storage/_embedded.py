"""The embedded PostgreSQL server: a node without ``DATABASE_URL`` runs its own, from ``pgserver``.

The cluster lives in ``<data_dir>/postgres`` and listens only on a Unix socket inside it, so two
nodes with different data directories never collide and nothing is exposed on the network.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._errors import EmbeddedServerError

__all__ = ["DEFAULT_DATA_DIR", "EmbeddedPostgres", "database_server"]

log = logging.getLogger("csms.storage")

DEFAULT_DATA_DIR = Path(".csms")


class EmbeddedPostgres:
    """Start, stop (and, for failure drills, crash and restart) the cluster in ``data_dir``."""

    def __init__(self, data_dir: Path | str = DEFAULT_DATA_DIR) -> None:
        self.data_dir = Path(data_dir)
        self.pgdata = (self.data_dir / "postgres").absolute()
        self._server: Any = None

    @property
    def url(self) -> str:
        """Connection URL of the ``postgres`` database on this server."""
        if self._server is None:
            raise EmbeddedServerError("the embedded server is not running")
        return str(self._server.get_uri())

    def start(self) -> str:
        with warnings.catch_warnings():
            # pgserver keeps a lock file in the user runtime dir and warns when XDG_RUNTIME_DIR
            # is unset (as in containers and services); its fallback is fine
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver  # here: it pulls in psutil and friends, unused with DATABASE_URL

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = pgserver.get_server(  # type: ignore[attr-defined]
                self.pgdata, cleanup_mode="stop"
            )
        except Exception as exc:
            raise EmbeddedServerError(f"cannot start PostgreSQL in {self.pgdata}: {exc}") from exc
        log.info("embedded PostgreSQL started", extra={"pgdata": str(self.pgdata)})
        return self.url

    def stop(self) -> None:
        """Fast shutdown (a checkpoint, then exit); safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
            log.info("embedded PostgreSQL stopped", extra={"pgdata": str(self.pgdata)})

    def crash(self) -> None:
        """Stop with ``-m immediate``: every backend is killed, no checkpoint, as in a power cut
        of the database alone. Recovery replays the WAL at the next start."""
        from pgserver import pg_ctl  # type: ignore[attr-defined]

        if self._server is None:
            raise EmbeddedServerError("the embedded server is not running")
        pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=self.pgdata, user=self._server.system_user)

    def restart(self) -> None:
        """Start again after ``crash``, with the same socket (the URL does not change)."""
        if self._server is None:
            raise EmbeddedServerError("the embedded server was stopped, use start()")
        with self._server._lock:
            self._server.ensure_postgres_running()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def database_server(
    *, database_url: str | None = None, data_dir: Path | str = DEFAULT_DATA_DIR
) -> Iterator[str]:
    """Yield the URL to use: ``database_url`` when given, else an embedded server in ``data_dir``
    that is stopped when the block exits."""
    if database_url:
        yield database_url
        return
    with EmbeddedPostgres(data_dir) as server:
        yield server.url
