"""The NATS mirror (``nats_mirror``): every event of the node's bus published to a JetStream
stream (docs/NATS.md), from a bounded buffer, in batches, on its own asyncio thread."""

from ._actor import NatsMirror
from ._child import NAME, nats_mirror_child
from ._link import MirrorLink, encode
from ._stats import MirrorStats

__all__ = ["NAME", "MirrorLink", "MirrorStats", "NatsMirror", "encode", "nats_mirror_child"]
