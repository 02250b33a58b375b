"""Durability (SPEC section 4): a node killed with SIGKILL mid-stream loses no acknowledged
transaction message, and the station's resend after the restart stores nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys

import orjson
import trio
from trio_websocket import ConnectionClosed, connect_websocket_url

from csms.storage import connect

from .peer import register
from .test_wire import BOOT, auth

TOTAL = 1000
KILL_AFTER = 400
T0 = dt.datetime(2026, 4, 1, 6, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_node(database_url: str, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CSMS_OCPP__HOST": "127.0.0.1",
        "CSMS_OCPP__PORT": str(port),
        "CSMS_LOG__LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "csms.cli", "serve"], env=env, stdout=subprocess.PIPE, text=True
    )


def event(seq: int) -> str:
    kind = "Started" if seq == 0 else "Ended" if seq == TOTAL - 1 else "Updated"
    at = (T0 + dt.timedelta(seconds=seq)).isoformat()
    payload = {
        "eventType": kind,
        "timestamp": at,
        "seqNo": seq,
        "triggerReason": "MeterValuePeriodic" if kind == "Updated" else "CablePluggedIn",
        "transactionInfo": {"transactionId": "durable-tx"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": at, "sampledValue": [{"value": seq * 10}]}],
    }
    return orjson.dumps([2, f"te-{seq}", "TransactionEvent", payload]).decode()


async def connect_when_up(nursery: trio.Nursery, node: subprocess.Popen[str], port: int):
    """Wait for the node's own word that it runs (`csms serve` prints it once listening)."""
    assert node.stdout is not None
    with trio.fail_after(60):
        while "running" not in (line := await trio.to_thread.run_sync(node.stdout.readline)):
            assert line, "the node exited before it was running"
        return await connect_websocket_url(
            nursery,
            f"ws://127.0.0.1:{port}/ocpp/DUR1",
            subprotocols=["ocpp2.0.1"],
            extra_headers=auth("DUR1"),
        )


async def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(database_url):
    register(database_url, "DUR1")
    port = free_port()
    node = start_node(database_url, port)
    acknowledged: set[int] = set()
    try:
        async with trio.open_nursery() as nursery:
            ws = await connect_when_up(nursery, node, port)
            await ws.send_message(orjson.dumps(BOOT).decode())
            await ws.get_message()
            seq, killed = 0, False
            while seq < TOTAL:
                try:
                    await ws.send_message(event(seq))
                    if seq == KILL_AFTER and not killed:
                        # Killed with this event in flight: it may or may not be committed.
                        node.send_signal(signal.SIGKILL)
                        node.wait()
                        killed = True
                    reply = orjson.loads(await ws.get_message())
                except ConnectionClosed:
                    # The station keeps the unacknowledged message and sends it again (E12).
                    node = start_node(database_url, port)
                    ws = await connect_when_up(nursery, node, port)
                    continue
                assert reply[:2] == [3, f"te-{seq}"]
                acknowledged.add(seq)
                seq += 1
            await ws.aclose()
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    assert killed
    assert acknowledged == set(range(TOTAL))
    with connect(database_url) as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq_no FROM transaction_events ORDER BY 1")]
        meters = conn.execute("SELECT count(*) FROM meter_values").fetchone()
    assert seqs == list(range(TOTAL))
    assert meters == (TOTAL,)
