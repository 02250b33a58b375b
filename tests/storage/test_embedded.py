"""The embedded server and ``migrate`` with a data directory (the ``csms migrate`` path)."""

from __future__ import annotations

import psycopg
import pytest

from csms.storage import EmbeddedPostgres, EmbeddedServerError, connect, load_migrations, migrate


def test_migrate_starts_the_embedded_server_in_the_data_dir_and_stops_it(tmp_path):
    data_dir = tmp_path / "node"
    applied = migrate(data_dir)
    assert len(applied) == len(load_migrations())
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert not (data_dir / "postgres" / "postmaster.pid").exists()  # stopped again
    assert migrate(data_dir) == []  # the data survived the stop


def test_crash_and_restart_keep_the_url_and_committed_data(tmp_path):
    with EmbeddedPostgres(tmp_path) as server:
        url = server.url
        with connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (1)")
        server.crash()
        with pytest.raises(psycopg.OperationalError):
            connect(url, connect_timeout=1)
        server.restart()
        assert server.url == url
        with connect(url) as conn:
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    with pytest.raises(EmbeddedServerError):
        _ = server.url
