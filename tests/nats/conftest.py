"""The NATS tests' fixtures: a real nats-server and a peer (tests/nats_server.py)."""

from __future__ import annotations

from tests.nats_server import nats, nats_peer

__all__ = ["nats", "nats_peer"]
