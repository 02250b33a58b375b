"""NATS for a node: the server it uses (``nats.url``, or the embedded one started here with
``nats.embedded``), or none; and the V2G preference changes it shares with the other nodes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import trio

from csms.actors.remote_gateway import ClusterGateway
from csms.actors.v2x import NAME as V2X
from csms.actors.v2x import PreferencesChanged
from csms.commands import StationGateway
from csms.config import Settings
from csms.runtime import ActorError, Supervisor
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


def v2g_user_changed(node_root: Supervisor, gateway: StationGateway, user_id: str) -> None:
    """A user's V2G preferences changed on this node: its V2X owner forgets what it cached for
    the user, and with NATS so do the other nodes' (``ClusterGateway.share_preferences_change``)."""
    forget_preferences(node_root, user_id)
    if isinstance(gateway, ClusterGateway):
        gateway.share_preferences_change(user_id)


def relay_preferences(node_root: Supervisor, gateway: StationGateway) -> None:
    """With NATS, another node's preference changes reach this node's V2X owner."""
    if isinstance(gateway, ClusterGateway):
        gateway.preferences_changed = lambda user_id: forget_preferences(node_root, user_id)


def forget_preferences(node_root: Supervisor, user_id: str) -> None:
    # a full or stopped owner forgets it within its cache's lifetime (30 s) anyway
    with contextlib.suppress(ActorError, KeyError):
        node_root.ref(V2X).tell_or_drop(PreferencesChanged(user_id))
