"""/readyz with NATS on: NATS is reported (``nats.events``, ``nats.commands``) but never gates
readiness, because a node charges without NATS and a load balancer must not take it out for
that (docs/NATS.md, docs/SCALING.md)."""

from __future__ import annotations

import trio

from csms.actors import Node
from csms.transport.nats_server import EmbeddedNats
from tests.api.conftest import api_node, client


def links_up(node: Node) -> bool:
    mirror = node.nats_mirror
    link = getattr(node.gateway, "link", None)
    return mirror is not None and mirror.connected and link is not None and link.connected


def links_down(node: Node) -> bool:
    mirror = node.nats_mirror
    link = getattr(node.gateway, "link", None)
    return mirror is not None and not mirror.connected and link is not None and not link.connected


async def test_readyz_reports_nats_and_stays_ready_when_it_is_down(
    database_url: str, nats: EmbeddedNats, admin_env: str
) -> None:
    overrides = {"nats.url": nats.url, "nats.stream": "READY", "nats.prefix": "r1"}
    async with api_node(database_url, **overrides) as node, client(node) as api:
        with trio.fail_after(20):
            while not links_up(node):
                await trio.lowlevel.checkpoint()
        reply = await api.get("/readyz")
        assert reply.status_code == 200
        body = reply.json()
        assert body["status"] == "ready"
        assert body["nats"] == {"events": True, "commands": True}
        assert "nats" not in body["checks"]
        metrics = (await api.get("/metrics")).text
        assert "csms_nats_commands_connected 1" in metrics

        await trio.to_thread.run_sync(nats.stop)
        with trio.fail_after(20):  # both links see the server gone
            while links_down(node) is False:
                await trio.lowlevel.checkpoint()
        reply = await api.get("/readyz")
        assert reply.status_code == 200  # still in the load balancer: it charges
        body = reply.json()
        assert body["status"] == "ready"
        assert body["nats"] == {"events": False, "commands": False}


async def test_readyz_without_nats_has_no_nats_field(database_url: str, admin_env: str) -> None:
    async with api_node(database_url) as node, client(node) as api:
        reply = await api.get("/readyz")
        assert reply.json()["nats"] is None
