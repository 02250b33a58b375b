"""The money actor's child spec and the way to ask it."""

from __future__ import annotations

import functools
from typing import Any

from csms.actors.node import NodeParts
from csms.runtime import ChildSpec, Supervisor

from ._actor import MoneyActor
from ._config import money_config
from ._wallet import WalletClient

__all__ = ["NAME", "ask_money", "money_child"]

#: The actor's name in the node's tree (``root.ref(NAME)``).
NAME = "v2g_money"


def money_child(parts: NodeParts) -> ChildSpec:
    """The node's ``v2g_money`` child, given the node's parts."""
    config = money_config(parts.settings)
    wallet = config.wallet
    client = (
        functools.partial(
            WalletClient, wallet.url, timeout=wallet.timeout_s, connections=wallet.concurrency
        )
        if wallet.url
        else None
    )

    def make() -> MoneyActor:
        return MoneyActor(
            database=parts.database, events=parts.events, config=config, wallet=client
        )

    return ChildSpec.actor(NAME, make, kind="v2g_money", shutdown_timeout=5)


async def ask_money(root: Supervisor, message: Any, *, timeout: float | None = 60) -> Any:
    return await root.ref(NAME).ask(message, timeout=timeout)
