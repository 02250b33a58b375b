"""API tokens: created once (only the hash is stored), revocable; the authenticator's cache."""

from __future__ import annotations

import hashlib

import httpx
import psycopg
import pytest
import trio
import trio.testing

from csms.actors import Node
from csms.api import Authenticator, Forbidden, Role, Unauthorized, create_token, revoke_token
from csms.storage import NotFound, connect

from .conftest import client


def test_only_the_hash_is_stored(database_url: str) -> None:
    token = create_token(database_url, "operator", "ci")
    assert token.startswith("csms_")
    with connect(database_url) as conn:
        (stored,) = conn.execute("SELECT token_hash FROM api_tokens WHERE name = 'ci'").fetchone()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    with pytest.raises(psycopg.errors.UniqueViolation):
        create_token(database_url, "viewer", "ci")
    with pytest.raises(ValueError, match="unknown role"):
        create_token(database_url, "root", "other")


async def test_revoked_token_is_refused(node: Node, database_url: str) -> None:
    token = await trio.to_thread.run_sync(create_token, database_url, "viewer", "temp")
    await trio.to_thread.run_sync(revoke_token, database_url, "temp")
    async with client(node, token) as c:
        r = await c.get("/api/v1/stations")
    assert r.status_code == 401
    with pytest.raises(NotFound):
        await trio.to_thread.run_sync(revoke_token, database_url, "temp")


async def test_requested_by_is_the_token_name(node: Node, database_url: str) -> None:
    token = await trio.to_thread.run_sync(create_token, database_url, "operator", "night-shift")
    async with client(node, token) as c:
        r = await c.post("/api/v1/id-tokens", json={"idToken": "X1", "type": "Central"})
    assert r.status_code == 201
    with connect(database_url) as conn:
        (used,) = conn.execute(
            "SELECT last_used_at FROM api_tokens WHERE name = 'night-shift'"
        ).fetchone()
    assert used is not None


async def test_authenticator_caches_for_a_bounded_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    live = {"h": ("alice", "operator")}
    lookups: list[str] = []

    async def lookup(digest: str) -> tuple[str, str] | None:
        lookups.append(digest)
        return live.get(digest)

    auth = Authenticator(lookup, admin_token="boot", cache_seconds=5)
    # the bootstrap token never touches the database
    principal = await auth.authenticate("Bearer boot")
    assert principal.role is Role.ADMIN
    assert lookups == []
    digest = hashlib.sha256(b"tok").hexdigest()
    live[digest] = ("alice", "operator")
    assert (await auth.authenticate("Bearer tok")).name == "alice"
    del live[digest]  # revoked
    assert (await auth.authenticate("bearer tok")).name == "alice"  # still cached
    await trio.sleep(5.1)  # virtual time (MockClock): past the 5 s cache
    with pytest.raises(Unauthorized):
        await auth.authenticate("Bearer tok")
    assert len(lookups) == 2
    with pytest.raises(Forbidden):
        Authenticator.authorize(principal.__class__("v", Role.VIEWER), Role.OPERATOR)
    for header in (None, "", "Bearer", "Basic Ym9vdA==", "Bearer  "):
        with pytest.raises(Unauthorized):
            await auth.authenticate(header)


async def test_admin_env_token_works_over_http(node: Node) -> None:
    async with client(node) as c:
        assert (await c.get("/api/v1/stations")).status_code == 200
    async with httpx.AsyncClient(base_url=str(c.base_url)) as anonymous:
        assert (await anonymous.get("/api/v1/stations")).status_code == 401
