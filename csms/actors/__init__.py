"""Thin trio shells that wire the pure layers to the outside world, one actor per concern.

What the node's actors share (``Node``), the event bus, the command gateway, the id-token cache
and its listener, the OCPP listener, the persistence actor and its database pool; the station
actors are in ``csms.actors.station``. Which of them a node runs, and what each is given, is
decided by the composition root, ``csms.node``.
"""

from .database import Database, DatabasePool, InMemoryDatabase
from .events import EventBus, Subscription
from .gateway import LocalStationGateway
from .id_tokens import IdTokenListener, IdTokens, id_token_listener_spec
from .listener import ListenerActor, LoginReadFailed, LoginReads, read_logins, websocket_settings
from .node import Node, NodeParts
from .persistence import (
    PersistenceActor,
    PersistenceSettings,
    PersistenceStatus,
    Write,
    persistence_spec,
    store,
    submit,
)

__all__ = [
    "Database",
    "DatabasePool",
    "EventBus",
    "IdTokenListener",
    "IdTokens",
    "InMemoryDatabase",
    "ListenerActor",
    "LocalStationGateway",
    "LoginReadFailed",
    "LoginReads",
    "Node",
    "NodeParts",
    "PersistenceActor",
    "PersistenceSettings",
    "PersistenceStatus",
    "Subscription",
    "Write",
    "id_token_listener_spec",
    "persistence_spec",
    "read_logins",
    "store",
    "submit",
    "websocket_settings",
]
