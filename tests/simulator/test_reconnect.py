"""Reconnection on trio's clock: the Part 4 back-off between attempts, settable by the CSMS."""

from __future__ import annotations

import itertools
import socket

import pytest
import trio

from csms.simulator import ReconnectBackoff, StationConfig, open_simulator


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


async def test_reconnect_attempts_follow_the_part4_backoff(mock_clock):
    """Part 4 section 5.3 / B RetryBackOff*: waits of WaitMinimum doubled per failed attempt,
    RepeatTimes times, then constant (random range 0 here, so the waits are exact)."""
    mock_clock.autojump_threshold = 0.02  # jump only while idle, never during socket I/O
    config = StationConfig(
        station_id="SIMB",
        server=f"ws://127.0.0.1:{closed_port()}/ocpp",
        meter_interval=1e6,
        backoff=ReconnectBackoff(wait_minimum=10, random_range=0, repeat_times=2),
    )
    async with open_simulator(config) as sim:
        state = sim.state
        times = []
        for n in range(1, 6):
            await state.wait_for(lambda n=n: state.attempts >= n)
            times.append(trio.current_time())
        assert not state.connected
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([10, 20, 40, 40], abs=0.5)
    assert all(e.startswith("connection:") for e in state.errors)
