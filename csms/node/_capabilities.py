"""The capabilities every node runs: their children and the routes of the station messages
they own. A new capability adds its child factory and its route factory here (the recipe in
the README's design section)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from csms.actors import NodeParts, payouts, prices
from csms.actors.certificates import certificate_routes, certificates_child
from csms.actors.firmware import firmware_child, firmware_routes
from csms.actors.nats_mirror import nats_mirror_child
from csms.actors.optimizer import optimizer_capability
from csms.actors.remote_gateway import nats_commands_child
from csms.actors.station import Route
from csms.actors.v2g import v2g_session_routes, v2g_sessions_child
from csms.actors.v2x import v2x_child, v2x_routes
from csms.config import Settings
from csms.runtime import ChildSpec, Supervisor

#: An extra child of the node (a capability: the V2G and firmware supervisors): given the
#: node's parts, its child spec, started after the stations.
ChildFactory = Callable[[NodeParts], ChildSpec]
#: The routes of the station messages an extra child owns (``csms/actors/station/_routes.py``):
#: given the tree (``root.ref(name)`` is the owner's address).
RouteFactory = Callable[[Supervisor], Iterable[Route]]


def capabilities(settings: Settings) -> tuple[tuple[ChildFactory, ...], tuple[RouteFactory, ...]]:
    """The capabilities every node runs (``csms serve``, and the nodes of the tests): their
    children and the routes of the station messages they own, ahead of ``build_node``'s
    ``extra_children`` and ``routes``."""
    # the V2G optimizer (csms/actors/optimizer): its route factory only hands it the tree
    optimizer = optimizer_capability()
    children: tuple[ChildFactory, ...] = (
        v2x_child,  # V2X: station support, Authorize, charging needs (csms/actors/v2x)
        v2g_sessions_child,  # discharge sessions, one actor each (csms/actors/v2g)
        firmware_child,  # firmware updates, one job actor each (csms/actors/firmware)
        prices.prices_child,  # grid prices: the PLD from CCEE, kept in memory (csms/actors/prices)
        payouts.money_child,  # V2G compensation and wallet payouts (csms/actors/payouts)
        certificates_child,  # station certificates, Plug & Charge, OCSP (csms/actors/certificates)
        optimizer.child,  # plans and starts V2G discharge ([v2g.optimizer])
    )
    if settings.nats.url:  # docs/NATS.md
        children += (
            nats_mirror_child,  # every event on JetStream (csms/actors/nats_mirror)
            nats_commands_child,  # commands between nodes (csms/actors/remote_gateway)
        )
    routes: tuple[RouteFactory, ...] = (
        v2x_routes(settings.ocpp.response_timeout),
        v2g_session_routes,
        firmware_routes,
        certificate_routes(settings.ocpp.response_timeout),
        optimizer.routes,
    )
    return children, routes
