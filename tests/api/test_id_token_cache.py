"""Authorization from the node's id-token cache, end to end: an `ocpp`-package charge point,
the REST API and changes made straight in the database (as the CLI or another node would)."""

from __future__ import annotations

from typing import Any

import httpx
import trio
from ocpp.v201 import call

from csms.actors import Node
from csms.runtime import AsyncioThread
from csms.storage import connect, tokens

from .chargepoint import TestChargePoint
from .test_device_commands import connected_station

TAG = {"id_token": "TAG1", "type": "ISO14443"}


async def status(bridge: AsyncioThread, cp: TestChargePoint) -> str:
    answer = await bridge.run(cp.cp.call, call.Authorize(id_token=TAG))
    return str(answer.id_token_info["status"])


async def heard(node: Node, seen: int) -> None:
    """Until the node's listener has received a change notification after the ``seen``-th."""
    ids = node.id_tokens
    with trio.fail_after(10):
        await ids.wait_for(lambda: ids.notifications > seen)


async def cached_station(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> TestChargePoint:
    """TAG1 created through the API and heard by the listener, a station connected that had
    TAG1 Accepted twice, the second time from the cache."""
    ids = node.id_tokens
    with trio.fail_after(10):
        await ids.wait_for(lambda: ids.listening)
    seen = ids.notifications
    r = await api.post("/api/v1/id-tokens", json={"idToken": "TAG1", "type": "ISO14443"})
    assert r.status_code == 201, r.text
    await heard(node, seen)  # so its notification cannot drop the entry filled below
    cp = await connected_station(node, api, bridge)
    assert await status(bridge, cp) == "Accepted"
    assert await status(bridge, cp) == "Accepted"
    assert ids.cache.stats.hits == 1
    return cp


class CountingReads:
    """Wraps the node's read pool: which repository functions were called."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(fn.__name__)
        return await self.inner.run(fn, *args, **kwargs)


async def test_the_second_authorize_and_a_transaction_event_do_not_read_the_database(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    reads = node.id_tokens.database = CountingReads(node.database)  # type: ignore[assignment]
    cp = await cached_station(node, api, bridge)
    started = await bridge.run(
        cp.cp.call,
        call.TransactionEvent(
            event_type="Started",
            timestamp="2026-01-05T10:00:00+00:00",
            trigger_reason="Authorized",
            seq_no=0,
            transaction_info={"transaction_id": "tx-1"},
            id_token=TAG,
        ),
    )
    assert started.id_token_info["status"] == "Accepted"
    assert reads.calls == ["get_id_token"]
    assert node.id_tokens.cache.stats.hits == 2
    text = (await api.get("/metrics")).text
    assert "csms_id_token_cache_hits_total 2" in text
    assert "csms_id_token_database_reads_total 1" in text
    assert "csms_id_token_listener_up 1" in text
    await cp.close()


async def test_a_token_blocked_then_deleted_through_the_api_is_refused_at_once(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """The API drops the cached token before it answers: no wait for any notification."""
    cp = await cached_station(node, api, bridge)
    r = await api.put("/api/v1/id-tokens/ISO14443/tag1", json={"status": "Blocked"})
    assert r.status_code == 200, r.text
    assert await status(bridge, cp) == "Blocked"
    assert (await api.delete("/api/v1/id-tokens/ISO14443/TAG1")).status_code == 204
    assert await status(bridge, cp) == "Invalid"
    r = await api.post("/api/v1/id-tokens", json={"idToken": "TAG1", "type": "ISO14443"})
    assert r.status_code == 201
    assert await status(bridge, cp) == "Accepted"  # the cached "unknown" was dropped too
    await cp.close()


async def test_a_change_made_in_the_database_is_seen_once_notified(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """As the CLI or another node would: a separate connection, no call into this node."""
    cp = await cached_station(node, api, bridge)
    for change, expected in (("Blocked", "Blocked"), (None, "Invalid")):
        seen = node.id_tokens.notifications
        with connect(node.database_url) as conn:
            if change is None:
                tokens.delete_id_token(conn, "TAG1", "ISO14443")
            else:
                tokens.upsert_id_token(conn, "TAG1", "ISO14443", status=change)
            conn.commit()
        await heard(node, seen)
        assert await status(bridge, cp) == expected
    await cp.close()
