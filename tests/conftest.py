"""Database fixtures shared by the whole suite (and nothing else).

One PostgreSQL server per test run: the embedded one (``pgserver``) in a temporary directory, or
the server at ``TEST_DATABASE_URL`` when set. A migrated template database is built once; each
test that asks for ``database_url`` gets a fresh copy of it (CREATE DATABASE ... TEMPLATE is a
file copy, far cheaper than running the migrations again).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from csms.runtime import AsyncioThread
from csms.storage import EmbeddedPostgres, connect, migrate_url, with_database
from tests.node_overrides import ADMIN_TOKEN


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a database on the test server with the right to create databases.

    The embedded server's directory is a temporary directory of this run's own, not one under
    pytest's numbered base: a second pytest run on the machine prunes the oldest of those, and
    would delete the data of a server still in use."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="csms-test-pg-") as directory:
        server = EmbeddedPostgres(pathlib.Path(directory))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


def _create_database(admin_url: str, template: str) -> str:
    name = f"csms_test_{uuid.uuid4().hex[:16]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def _drop_database(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """Name of a database holding the current schema, used only as a template."""
    name = _create_database(pg_admin_url, "template0")
    try:
        migrate_url(with_database(pg_admin_url, name))
        yield name
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def database_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test."""
    name = _create_database(pg_admin_url, pg_template)
    try:
        yield with_database(pg_admin_url, name)
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = _create_database(pg_admin_url, "template0")
    try:
        yield with_database(pg_admin_url, name)
    finally:
        _drop_database(pg_admin_url, name)


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The node's bootstrap admin token (``CSMS_ADMIN_TOKEN``)."""
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN_TOKEN)
    return ADMIN_TOKEN


@pytest.fixture
async def bridge() -> AsyncIterator[AsyncioThread]:
    """The asyncio thread the `ocpp`-package charge points run on."""
    thread = AsyncioThread(name="charge-points")
    await thread.start()
    try:
        yield thread
    finally:
        await thread.stop()
