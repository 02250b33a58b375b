"""The V2X owner's preferences cache across nodes: a user's V2G preferences changed through one
node's REST API reach the V2X owner of the node that holds the user's station (over NATS,
``<prefix>.v2x.preferences``), as they reach the local one (docs/NATS.md)."""

from __future__ import annotations

from csms.actors import Node
from csms.node import NodeControlPlane
from csms.storage import connect as db_connect
from csms.transport.nats_server import EmbeddedNats
from tests.interop.peer import interop_node
from tests.interop.test_v2x_station import (
    OTHER,
    ac_needs,
    booted,
    opt_in,
    prepare,
    start_transaction,
    variables_read,
)
from tests.nats.test_cluster import until

STATION = "V2X-NATS-1"


def listening(node: Node) -> bool:
    """The node's command server is connected and has subscribed the preferences subject."""
    link = getattr(node.gateway, "link", None)
    return link is not None and link.connected and "csms.v2x.preferences" in link.subscribed()


async def test_an_opt_in_through_node_a_reaches_node_b_holding_the_station(
    database_url: str, nats: EmbeddedNats
) -> None:
    """Q02.FR.05 across nodes: Bia charges unidirectionally on node B with a BPT mode listed;
    she opts in through node A (whose REST API tells its node): node B's V2X owner forgets her
    cached preferences and offers V2X with NotifyAllowedEnergyTransfer."""
    prepare(database_url, STATION)
    on = {"nats.url": nats.url, "nats.prefix": "csms"}
    async with (
        interop_node(database_url, **{"node.id": "node-a", **on}) as (a, _),
        interop_node(database_url, **{"node.id": "node-b", **on}) as (b, bridge),
    ):
        peer = await booted(b, bridge, STATION)
        await variables_read(b, STATION)
        await start_transaction(peer, OTHER, "tx-nats-bia")
        assert (await peer.call(ac_needs(["AC_three_phase", "AC_BPT"]))).status == "Accepted"
        await bridge.run(peer.cp.wait_for, "SetChargingProfile")  # Bia: not opted in, cached
        await until(lambda: listening(a) and listening(b))
        with db_connect(database_url) as conn:
            opt_in(conn, "bia")
            conn.commit()
        NodeControlPlane(a).v2g_user_changed("bia")  # as node A's REST API does
        (notified,) = await bridge.run(peer.cp.wait_for, "NotifyAllowedEnergyTransfer")
        assert notified["transaction_id"] == "tx-nats-bia"
        assert "AC_BPT" in notified["allowed_energy_transfer"]
        await peer.close()
