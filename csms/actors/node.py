"""The node: the root of the supervision tree (SPEC section 1).

The tree grows as capabilities land; each child is added here in the order of the spec, and the
root restarts with ``rest_for_one`` so that a restarted dependency (persistence, events) also
restarts everything started after it.
"""

from __future__ import annotations

import logging
import signal

import attrs
import trio

from csms.config import Settings
from csms.runtime import (
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    RestartIntensity,
    Strategy,
    Supervisor,
)

log = logging.getLogger("csms.node")


@attrs.define
class Node:
    """A running node and the handles its children need."""

    settings: Settings
    root: Supervisor
    stations: DynamicSupervisor


def build_node(settings: Settings) -> Node:
    stations = DynamicSupervisor(name="stations")
    root = Supervisor(
        Strategy.REST_FOR_ONE,
        [ChildSpec.supervisor("stations", stations)],
        intensity=RestartIntensity(max_restarts=5, within=60),
        backoff=Backoff(initial=0.5, maximum=10),
        name="node",
    )
    return Node(settings=settings, root=root, stations=stations)


async def serve(settings: Settings) -> None:
    """Run a node until SIGINT or SIGTERM, then stop it in reverse order."""
    node = build_node(settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.root.run)
        log.info("node started", extra={"node": settings.node.id})
        print(f"csms node {settings.node.id} running; Ctrl-C stops it", flush=True)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("stopping", extra={"signal": signal.Signals(signum).name})
                break
        await node.root.stop()
    print("csms node stopped", flush=True)
