"""A real ``nats-server -js`` for the tests (the package's own starter, ``EmbeddedNats``), and a
NATS peer that reads what the node published: a nats-py client on an ``AsyncioThread``.

Fixtures (registered by tests/nats/conftest.py): ``nats`` is a server of the test's own in a
temporary directory, on a free loopback port; ``nats_peer`` a connected peer.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import nats as nats_py
import pytest
from nats.js.errors import NotFoundError

from csms.runtime import AsyncioThread
from csms.transport.nats_server import EmbeddedNats

__all__ = ["NatsPeer", "Received", "nats", "nats_peer"]


@attrs.frozen
class Received:
    subject: str
    headers: dict[str, str]
    body: dict[str, Any]


class NatsPeer:
    """A NATS client for a test: reads a stream, subscribes, requests. Its methods run on the
    asyncio thread (``await peer.run(peer.stream_messages, "S")``)."""

    def __init__(self, thread: AsyncioThread, url: str) -> None:
        self.thread = thread
        self.url = url
        self.nc: Any = None

    async def run(self, fn: Any, *args: Any) -> Any:
        return await self.thread.run(fn, *args)

    async def connect(self) -> None:
        async def quiet(exc: Exception) -> None:  # a server stopped on purpose is no error
            pass

        self.nc = await nats_py.connect(self.url, max_reconnect_attempts=-1, error_cb=quiet)

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()

    async def stream_messages(self, stream: str) -> list[Received]:
        """Every message the stream holds, in order."""
        js = self.nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            msg = await js.get_msg(stream, seq)
            out.append(Received(msg.subject, dict(msg.headers or {}), json.loads(msg.data)))
        return out

    async def stream_count(self, stream: str) -> int:
        return int((await self.nc.jetstream().stream_info(stream)).state.messages)

    async def wait_stream_count(self, stream: str, count: int, timeout: float = 30) -> int:
        """Waits until the stream holds ``count`` messages (what the peer can see of JetStream's
        state; it has no push for that), or fails after ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    n = await self.stream_count(stream)
                except NotFoundError:
                    n = -1
                if n >= count:
                    return n
                await asyncio.sleep(0.02)

    async def collect(
        self, subject: str, count: int, timeout: float = 30, *, stations_only: bool = True
    ) -> list[Received]:
        """The first ``count`` messages of the stream matching ``subject`` (an ordered
        consumer from the stream's start); with ``stations_only``, not counting the events
        about no station (the node's own, such as a price refresh at start)."""
        js = self.nc.jetstream()
        out = []
        async with asyncio.timeout(timeout):
            while True:  # the node creates the stream when its mirror first connects
                try:
                    sub = await js.subscribe(subject, ordered_consumer=True)
                    break
                except NotFoundError:
                    await asyncio.sleep(0.02)
        try:
            async with asyncio.timeout(timeout):
                while len(out) < count:
                    msg = await sub.next_msg(timeout=timeout)
                    if stations_only and ".events._." in msg.subject:
                        continue
                    out.append(Received(msg.subject, dict(msg.headers or {}), json.loads(msg.data)))
        finally:
            await sub.unsubscribe()
        return out


@pytest.fixture
def nats(tmp_path: pathlib.Path) -> Iterator[EmbeddedNats]:
    """A nats-server with JetStream of this test's own (stopped at the end)."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_peer(nats: EmbeddedNats) -> AsyncIterator[NatsPeer]:
    thread = AsyncioThread(name="nats-peer")
    await thread.start()
    peer = NatsPeer(thread, nats.url)
    await peer.run(peer.connect)
    try:
        yield peer
    finally:
        await peer.run(peer.close)
        await thread.stop()
