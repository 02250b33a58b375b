"""The mirror's child spec (registered by ``csms/node/_capabilities.py`` when NATS is on)."""

from __future__ import annotations

from csms.actors.node import NodeParts
from csms.runtime import ChildSpec

from ._actor import NatsMirror
from ._stats import MirrorStats

__all__ = ["NAME", "nats_mirror_child"]

#: The actor's name in the node's tree.
NAME = "nats_mirror"


def nats_mirror_child(parts: NodeParts, stats: MirrorStats | None = None) -> ChildSpec:
    """The node's ``nats_mirror`` child; ``stats`` (kept across restarts) defaults to a new one.
    NATS must be configured (``nats.url``, the embedded server's once started)."""
    settings = parts.settings
    url = settings.nats.url
    if not url:
        raise ValueError("nats.url is not set: the mirror has no server")
    counters = stats if stats is not None else MirrorStats()
    parts.nats_mirror = counters  # read by the REST API's /metrics
    # subscribed now, before any child starts: every event of the node is mirrored
    subscription = parts.events.subscribe("", capacity=settings.nats.buffer)

    def make() -> NatsMirror:
        return NatsMirror(
            events=parts.events,
            settings=settings.nats,
            url=url,
            node_id=settings.node.id,
            stats=counters,
            subscription=subscription,
        )

    # its on_stop hands NATS what is buffered (bounded by the ack timeout), then closes
    return ChildSpec.actor(
        NAME, make, kind="nats_mirror", shutdown_timeout=settings.nats.ack_timeout_s + 5
    )
