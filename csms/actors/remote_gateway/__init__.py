"""Commands between the nodes of a cluster over NATS (docs/NATS.md, SPEC section 9): the
``ClusterGateway`` (a station held by another node is reached through NATS request/reply) and
the ``CommandServer`` (``nats_commands``: this node's answers for the stations it holds)."""

from ._child import NAME, cluster_gateway, nats_commands_child
from ._gateway import REPLY_MARGIN, ClusterGateway
from ._link import CommandLink, NoResponders
from ._server import CommandServer

__all__ = [
    "NAME",
    "REPLY_MARGIN",
    "ClusterGateway",
    "CommandLink",
    "CommandServer",
    "NoResponders",
    "cluster_gateway",
    "nats_commands_child",
]
