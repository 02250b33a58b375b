"""Fixtures of the discharge sessions' end-to-end tests (test_v2g_discharge*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio.testing

from csms.runtime import AsyncioThread

from ..api.conftest import ADMIN_TOKEN


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """The node's bootstrap admin token (``CSMS_ADMIN_TOKEN``)."""
    monkeypatch.setenv("CSMS_ADMIN_TOKEN", ADMIN_TOKEN)
    return ADMIN_TOKEN


@pytest.fixture
async def bridge() -> AsyncIterator[AsyncioThread]:
    """The asyncio thread the `ocpp`-package charge points run on."""
    thread = AsyncioThread(name="v2x-charge-point")
    await thread.start()
    try:
        yield thread
    finally:
        await thread.stop()


@pytest.fixture
def wall_clock() -> trio.testing.MockClock:
    """Trio's clock at real speed, which a test may move forward (``jump``): the discharge
    sessions' clock follows it (durations, windows, the disconnect grace)."""
    return trio.testing.MockClock(rate=1.0)
