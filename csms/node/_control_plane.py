"""The REST API's ``ControlPlane`` over a node of this process; each capability's part of it
(V2G, prices, firmware) is a facet in its own module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from csms.actors import DatabasePool, Node
from csms.actors.events import Subscription
from csms.actors.station import GetSnapshot
from csms.api import EventFeed, IdTokenStats, NodeStats, Unavailable
from csms.commands import StationGateway
from csms.node._certificates import NodeCertificates
from csms.node._firmware import NodeFirmware
from csms.node._money import NodeMoney
from csms.node._nats import v2g_user_changed
from csms.node._optimizer import NodeOptimizer
from csms.node._prices import NodePrices
from csms.node._v2g import NodeV2G
from csms.runtime import ActorError, collect_stats


@attrs.frozen
class NodeControlPlane:
    """The REST API's ``ControlPlane`` over a node of this process."""

    node: Node

    @property
    def gateway(self) -> StationGateway:
        return self.node.gateway

    @property
    def database(self) -> DatabasePool:
        return self.node.database

    @property
    def response_timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout

    def readiness(self) -> Mapping[str, bool]:
        return {
            "database": self.node.persistence_status.ready,
            "ocppListener": bool(self.node.ocpp_addresses),
        }

    def stats(self) -> NodeStats:
        node = self.node
        routed: dict[tuple[str, str, str], int] = {}
        for route in node.routes:
            for outcome in ("routed", "dropped", "refused", "defaulted"):
                key = (route.action, outcome, route.name)
                routed[key] = routed.get(key, 0) + getattr(route.stats, outcome)
        ids = node.id_tokens
        cache = ids.cache.stats
        return NodeStats(
            stations_connected=len(node.stations.registry.names()),
            events_published=node.events.published,
            persistence=node.persistence_status,
            id_tokens=IdTokenStats(
                cache_hits=cache.hits,
                cache_misses=cache.misses,
                cache_invalidations=cache.invalidations,
                cache_entries=len(ids.cache),
                database_reads=ids.database_reads,
                listening=ids.listening,
            ),
            messages_received=dict(node.routes.received),
            routed=routed,
            actors=collect_stats(node.root),
            nats=_nats_stats(node),
        )

    def subscribe(self, prefix: str) -> Subscription:
        return self.node.events.subscribe(prefix)

    def unsubscribe(self, feed: EventFeed) -> None:
        assert isinstance(feed, Subscription)
        self.node.events.unsubscribe(feed)

    async def station_snapshot(self, station_id: str) -> Any | None:
        ref = self.node.stations.registry.lookup(station_id)
        if ref is None:
            return None
        try:
            return await ref.ask(GetSnapshot(), timeout=5)
        except (ActorError, TimeoutError):
            return None  # it went away meanwhile

    async def disconnect_station(self, station_id: str) -> None:
        node = self.node
        ref = node.stations.registry.lookup(station_id)
        if ref is not None:
            # closes its connection and waits until the actor is gone, so it cannot write again
            await node.stations.stop_child(ref)
        # A barrier: once an empty write is committed, everything the station's actor handed
        # the persistence actor before it is committed too (batches are written in order).
        try:
            await node.services.store()
        except (ActorError, TimeoutError):
            raise Unavailable("the database is not accepting writes; try again") from None

    def id_token_changed(self, id_token: str, type_: str) -> None:
        self.node.id_tokens.invalidate(id_token, type_)

    def v2g_user_changed(self, user_id: str) -> None:
        v2g_user_changed(self.node.root, self.node.gateway, user_id)  # every node's cache

    @property
    def v2g(self) -> NodeV2G:
        return NodeV2G(self.node)

    @property
    def firmware(self) -> NodeFirmware:
        return NodeFirmware(self.node)

    @property
    def prices(self) -> NodePrices:
        return NodePrices(self.node)

    @property
    def optimizer(self) -> NodeOptimizer:
        return NodeOptimizer(self.node)

    @property
    def certificates(self) -> NodeCertificates:
        return NodeCertificates(self.node)

    @property
    def money(self) -> NodeMoney:
        return NodeMoney(self.node)


def _nats_stats(node: Node) -> dict[str, float] | None:
    mirror = node.nats_mirror
    if mirror is None:
        return None
    remote = getattr(node.gateway, "remote_sent", None)  # the cluster gateway's count
    link = getattr(node.gateway, "link", None)  # its NATS link for commands between nodes
    return {
        "connected": float(mirror.connected),
        "stored": mirror.stored,
        "duplicates": mirror.duplicates,
        "dropped": mirror.dropped,
        "retries": mirror.retries,
        **({"remote_commands": remote} if remote is not None else {}),
        **({"commands_connected": float(link.connected)} if link is not None else {}),
    }
