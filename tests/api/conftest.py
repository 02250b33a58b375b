"""A whole node with the control API on free ports, an admin client, and charge points."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from csms.actors import Node
from csms.config import Settings, load_settings
from csms.node import ChildFactory, RouteFactory, open_node
from tests.node_overrides import ADMIN_TOKEN, node_overrides

PASSWORD = "api-test-password-0123"


def node_settings(database_url: str, **overrides: Any) -> Settings:
    """A node on free loopback ports."""
    return load_settings(
        env={},
        overrides=node_overrides(database_url, **overrides),
    )


@contextlib.asynccontextmanager
async def api_node(
    database_url: str,
    *,
    extra_children: tuple[ChildFactory, ...] = (),
    routes: tuple[RouteFactory, ...] = (),
    **overrides: Any,
) -> AsyncIterator[Node]:
    async with open_node(
        node_settings(database_url, **overrides),
        extra_children=extra_children,
        http=True,
        routes=routes,
        validate_outbound=True,
    ) as node:
        yield node


def base_url(node: Node) -> str:
    host, port = node.http_addresses[0]
    return f"http://{host}:{port}"


def client(node: Node, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(base_url=base_url(node), headers=headers, timeout=30)


@pytest.fixture
async def node(database_url: str, admin_env: str) -> AsyncIterator[Node]:
    async with api_node(database_url) as running:
        yield running


@pytest.fixture
async def api(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    async with client(node) as c:
        yield c
