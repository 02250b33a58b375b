import pytest
import trio.testing

from .helpers import Journal


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead whenever every task is blocked: timeouts cost nothing."""
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def journal() -> Journal:
    return Journal()
