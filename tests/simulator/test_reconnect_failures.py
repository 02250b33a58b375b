"""A station never stops reconnecting: not when the CSMS closes the socket during the opening
handshake (a loaded node's handshake timeout), not on an error the connection loop does not
expect; each attempt follows the Part 4 back-off (section 5.3)."""

from __future__ import annotations

import functools
import itertools
import logging
from typing import Any

import pytest
import trio

import csms.simulator._station as station_module
from csms.simulator import LoadStats, ReconnectBackoff, StationConfig, open_simulator

BACKOFF = ReconnectBackoff(wait_minimum=10, random_range=0, repeat_times=2)


async def _close_during_handshake(stream: trio.SocketStream) -> None:
    """A CSMS that gives up a handshake: reads the upgrade request, closes unanswered."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = await stream.receive_some()
        if not chunk:
            break
        received += chunk
    await stream.aclose()


async def _attempt_times(state: Any, count: int) -> list[float]:
    times = []
    with trio.fail_after(1000):  # trio's (mock) clock: the back-off's waits are 10, 20, 40 s
        for n in range(1, count + 1):
            await state.wait_for(lambda n=n: state.attempts >= n)
            times.append(trio.current_time())
    return times


async def test_a_handshake_the_csms_closes_unanswered_is_retried(mock_clock, nursery):
    mock_clock.autojump_threshold = 0.02  # jump only while idle, never during socket I/O
    serve = functools.partial(trio.serve_tcp, _close_during_handshake, 0, host="127.0.0.1")
    listeners = await nursery.start(serve)
    port = listeners[0].socket.getsockname()[1]
    stats = LoadStats()
    config = StationConfig(
        station_id="SIMH",
        server=f"ws://127.0.0.1:{port}/ocpp",
        meter_interval=1e6,
        connect_timeout=5.0,
        backoff=BACKOFF,
    )
    async with open_simulator(config, stats=stats) as sim:
        times = await _attempt_times(sim.state, 4)
        assert not sim.state.connected
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([5 + 10, 5 + 20, 5 + 40], abs=0.5)  # the timeout, the wait
    assert stats.error_kinds["handshake_timeout"] >= 3
    assert all(e.startswith("handshake_timeout:") for e in sim.state.errors)


async def test_an_unexpected_error_is_counted_logged_once_and_retried(
    mock_clock, monkeypatch, caplog
):
    mock_clock.autojump_threshold = 0.02

    async def broken_connect(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("planted: a bug in the connection code")

    monkeypatch.setattr(station_module, "connect_websocket_url", broken_connect)
    stats = LoadStats()
    config = StationConfig(
        station_id="SIMU", server="ws://127.0.0.1:9/ocpp", meter_interval=1e6, backoff=BACKOFF
    )
    with caplog.at_level(logging.ERROR, logger="csms.simulator"):
        async with open_simulator(config, stats=stats) as sim:
            times = await _attempt_times(sim.state, 4)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([10, 20, 40], abs=0.5)
    assert stats.error_kinds["unexpected:RuntimeError"] >= 3
    assert all(e.startswith("unexpected:RuntimeError:") for e in sim.state.errors)
    logged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].error == "RuntimeError"  # type: ignore[attr-defined]
