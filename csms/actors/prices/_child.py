"""The prices actor's child spec and the way to ask it."""

from __future__ import annotations

import functools
from typing import Any

from csms.actors.node import NodeParts
from csms.runtime import ChildSpec, Supervisor
from csms.services.grid_price_book import GridPriceBook
from csms.services.grid_price_json import GridPriceQueryError
from csms.services.v2g_preferences import time_zone

from ._actor import PricesActor
from ._ccee import CceeClient

__all__ = ["NAME", "ask_prices", "prices_child"]

#: The actor's name in the node's tree (``root.ref(NAME)``).
NAME = "prices"


def prices_child(parts: NodeParts) -> ChildSpec:
    """The node's ``prices`` child, given the node's parts."""
    v2g = parts.settings.v2g
    ccee = v2g.ccee
    zone = time_zone(v2g.time_zone)
    book = GridPriceBook(v2g.grid_prices(), zone)
    client = (
        functools.partial(CceeClient, ccee.base_url, ccee.api_key, timeout=ccee.timeout_s)
        if ccee.fetch
        else None
    )

    def make() -> PricesActor:
        return PricesActor(
            database=parts.database,
            book=book,
            client=client,
            refresh_interval=ccee.refresh_interval_s,
            events=parts.events,
        )

    return ChildSpec.actor(NAME, make, kind="prices", shutdown_timeout=5)


async def ask_prices(root: Supervisor, message: Any, *, timeout: float = 10) -> Any:
    """The actor's answer; a bad query comes back as the ``GridPriceQueryError`` it raises."""
    answer = await root.ref(NAME).ask(message, timeout=timeout)
    if isinstance(answer, GridPriceQueryError):
        raise answer
    return answer
