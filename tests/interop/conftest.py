"""Fixtures of the discharge sessions' end-to-end tests (test_v2g_discharge*.py)."""

from __future__ import annotations

import pytest
import trio.testing


@pytest.fixture
def wall_clock() -> trio.testing.MockClock:
    """Trio's clock at real speed, which a test may move forward (``jump``): the discharge
    sessions' clock follows it (durations, windows, the disconnect grace)."""
    return trio.testing.MockClock(rate=1.0)
