"""The mirror's counters (no dependencies: ``NodeParts`` carries them for /metrics)."""

from __future__ import annotations

import attrs

__all__ = ["MirrorStats"]


@attrs.define
class MirrorStats:
    """The mirror's counters; one object for the node, kept across the actor's restarts."""

    #: Events taken from the bus into batches.
    received: int = 0
    #: Events JetStream acknowledged as stored.
    stored: int = 0
    #: Resends JetStream recognised by their Nats-Msg-Id and did not store again.
    duplicates: int = 0
    #: Events lost: the buffer was full, or the node stopped before NATS took them.
    dropped: int = 0
    #: trio -> asyncio crossings (one per batch attempt).
    crossings: int = 0
    #: Batches that failed and were sent again.
    retries: int = 0
    connected: bool = False
    #: Connections made (the first, and each after a loss).
    connects: int = 0
    #: Drops already reported in a ``mirror.dropped`` line.
    reported_drops: int = 0
    #: The node's subscription's drop count already added to ``dropped``.
    bus_drops_seen: int = 0
