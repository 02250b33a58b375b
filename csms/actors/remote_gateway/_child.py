"""The cluster gateway and the command server's child spec (registered by the composition
root when NATS is configured)."""

from __future__ import annotations

from csms.actors.gateway import LocalStationGateway
from csms.actors.node import NodeParts
from csms.commands import StationGateway
from csms.config import Settings
from csms.runtime import ChildSpec

from ._gateway import ClusterGateway
from ._link import CommandLink
from ._server import CommandServer

__all__ = ["NAME", "cluster_gateway", "nats_commands_child"]

NAME = "nats_commands"


def cluster_gateway(settings: Settings, local: LocalStationGateway) -> StationGateway:
    """The node's gateway: ``local`` alone without NATS, else a ``ClusterGateway`` over it."""
    url = settings.nats.url
    if not url:
        return local
    link = CommandLink(url, name=f"csms-{settings.node.id}-commands")
    return ClusterGateway(local, link, prefix=settings.nats.prefix, node_id=settings.node.id)


def nats_commands_child(parts: NodeParts) -> ChildSpec:
    gateway = parts.gateway
    if not isinstance(gateway, ClusterGateway):
        raise TypeError("nats_commands needs the node's gateway from cluster_gateway()")

    def make() -> CommandServer:
        return CommandServer(
            gateway=gateway,
            stations=parts.stations,
            events=parts.events,
            database=parts.database,
            node_id=parts.settings.node.id,
            database_url=parts.database_url,
            reap_interval=parts.settings.nats.reap_interval_s,
        )

    return ChildSpec.actor(NAME, make, kind="nats_commands", shutdown_timeout=5)
