"""The actor layer's public names are a contract: adding or removing one is a deliberate change."""

import csms.actors

from ..public_names import exported


def test_public_names_are_pinned():
    assert exported(csms.actors) == [
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
