"""The tests against the in-memory ControlPlane (tests/api/fake_control_plane.py): the fake and
an admin REST client over it (ASGI, no sockets), for every module of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from ..fake_control_plane import FakeControlPlane, fake_app

TOKEN = "in-memory-admin-token-0123456789"


@pytest.fixture
def control() -> FakeControlPlane:
    return FakeControlPlane(response_timeout=10)


@pytest.fixture
async def api(control: FakeControlPlane) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_app(control, TOKEN))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://csms",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


def accepted(action: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A station that accepts every command."""
    return {"status": "Accepted"}
