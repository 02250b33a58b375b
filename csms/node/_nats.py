"""NATS for a node: the server it uses (``nats.url``, or the embedded one started here with
``nats.embedded``), or none."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import trio

from csms.config import Settings
from csms.transport.nats_server import EmbeddedNats


@contextlib.asynccontextmanager
async def nats_server(settings: Settings) -> AsyncIterator[Settings]:
    """``settings`` with ``nats.url`` set when NATS is on: the given server, or a
    ``nats-server -js`` started in ``<database.data_dir>/nats`` for ``nats.embedded`` (stopped
    on exit). NATS off: ``settings`` as they are."""
    if settings.nats.url or not settings.nats.embedded:
        yield settings
        return
    server = EmbeddedNats(settings.database.data_dir / "nats")
    url = await trio.to_thread.run_sync(server.start)
    try:
        yield attrs.evolve(settings, nats=attrs.evolve(settings.nats, url=url))
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)
