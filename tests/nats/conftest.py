"""The NATS tests' fixtures: a real nats-server and a peer (tests/nats_server.py)."""

from collections.abc import AsyncIterator

import pytest

from csms.runtime import AsyncioThread
from tests.api.conftest import ADMIN_TOKEN
from tests.nats_server import nats, nats_peer

__all__ = ["admin_env", "bridge", "nats", "nats_peer"]


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN_TOKEN)
    return ADMIN_TOKEN


@pytest.fixture
async def bridge() -> AsyncIterator[AsyncioThread]:
    """The asyncio thread the `ocpp`-package charge points run on."""
    thread = AsyncioThread(name="charge-points")
    await thread.start()
    try:
        yield thread
    finally:
        await thread.stop()
