"""What the node's actors share (``Node``), built by the composition root (``csms.node``),
which decides which actors exist and what each is given.

::

    node (rest_for_one)
    ├── persistence     permanent   the PostgreSQL writer (group commit)
    ├── stations        dynamic     one temporary station actor per connected charge point
    ├── ...             extra children (capabilities; the REST API's http_control)
    ├── ocpp_listener   permanent   accepts WebSocket connections, starts station actors
    └── id_tokens       permanent   LISTENs for id-token changes, keeps the id-token cache true
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from csms.actors.database import DatabasePool
from csms.actors.events import EventBus
from csms.actors.id_tokens import IdTokens
from csms.actors.persistence import PersistenceStatus
from csms.actors.station import StationRoutes, StationServices
from csms.commands import StationGateway
from csms.config import Settings
from csms.runtime import DynamicSupervisor, Supervisor

if TYPE_CHECKING:  # the mirror's package imports this module
    from csms.actors.nats_mirror import MirrorStats

__all__ = ["Node", "NodeParts"]


@attrs.define(kw_only=True)
class NodeParts:
    """What exists before the supervision tree: what an extra child of the node is given."""

    settings: Settings
    database_url: str
    events: EventBus
    #: Repository calls on PostgreSQL (reads, and the writes that skip the writer).
    database: DatabasePool
    #: The id-token cache shared by every station and the REST API.
    id_tokens: IdTokens
    persistence_status: PersistenceStatus
    stations: DynamicSupervisor
    #: The one way to send commands to stations (the REST API's, and every actor's).
    gateway: StationGateway
    #: Check every outbound OCPP message against its schema (on in tests).
    validate_outbound: bool = False
    #: The NATS mirror's counters, when NATS is on (set by its child factory).
    nats_mirror: MirrorStats | None = None


@attrs.define(kw_only=True)
class Node(NodeParts):
    """A node: its parts, its supervision tree, and what the stations are given."""

    root: Supervisor
    routes: StationRoutes
    services: StationServices
    #: Where the listeners are bound, once they are (set by the listener and the REST API).
    ocpp_addresses: list[tuple[str, int]] = attrs.field(factory=list)
    http_addresses: list[tuple[str, int]] = attrs.field(factory=list)

    @property
    def ocpp_port(self) -> int:
        return self.ocpp_addresses[0][1]
