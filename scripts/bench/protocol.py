"""Benchmark: the full inbound OCPP-J path of `csms.protocol` beside the `ocpp` package's.

Ours, per message: bytes -> `OcppConnection.receive_text` (parse, schema validation, structuring
into attrs objects) -> handler stub (returns a prebuilt response object) -> `send(CallResult)`
(unstructure, serialize). The `ocpp` package's path in the same process: `messages.unpack` +
`messages.validate_payload` only (no typed objects, no response), with `ASYNC_VALIDATION = False`,
its fastest setting (the default hands every validation to a thread pool).

Single process, single thread. Each figure is the best of `--repeats` runs of `--seconds` each.

    python scripts/bench/protocol.py [--seconds 1.0] [--repeats 3] [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
from ocpp import messages as ocpp_messages

from csms.protocol import (
    BootState,
    CallReceived,
    CallResult,
    OcppConnection,
    Role,
    Version,
    v201,
)

NOW = "2025-03-01T12:00:00.123Z"
MEASURANDS = [
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Current.Import",
    "Current.Import",
    "Voltage",
    "Voltage",
    "Voltage",
    "Frequency",
    "SoC",
]
PHASES = [None, None, "L1", "L2", "L3", "L1-N", "L2-N", "L3-N", None, None]
UNITS = ["Wh", "W", "A", "A", "A", "V", "V", "V", "Hz", "Percent"]


def sampled_values(count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        value: dict[str, Any] = {
            "value": 230.5 + i,
            "measurand": MEASURANDS[i % 10],
            "context": "Sample.Periodic",
            "unitOfMeasure": {"unit": UNITS[i % 10]},
        }
        if PHASES[i % 10]:
            value["phase"] = PHASES[i % 10]
        out.append(value)
    return out


PAYLOADS: dict[str, dict[str, Any]] = {
    "Heartbeat": {},
    "MeterValues": {
        "evseId": 1,
        "meterValue": [{"timestamp": NOW, "sampledValue": sampled_values(10)}],
    },
    "TransactionEvent": {
        "eventType": "Updated",
        "timestamp": NOW,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 12,
        "transactionInfo": {"transactionId": "tx-0000123", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "04A1B2C3D4E5F6", "type": "ISO14443"},
        "meterValue": [{"timestamp": NOW, "sampledValue": sampled_values(3)}],
    },
}

RESPONSES: dict[str, Any] = {
    "Heartbeat": v201.HeartbeatResponse(current_time=datetime.datetime.now(datetime.UTC)),
    "MeterValues": v201.MeterValuesResponse(),
    "TransactionEvent": v201.TransactionEventResponse(),
}


def ours(action: str) -> Callable[[], None]:
    raw = orjson.dumps([2, "0b9c6a7e-1f1e-4d1b-9f57-2f6c1c7d9e01", action, PAYLOADS[action]])
    conn = OcppConnection(Role.SERVER, Version.V201, boot_state=BootState.ACCEPTED)
    response = RESPONSES[action]

    def handler(request: Any) -> Any:
        return response

    def run() -> None:
        (event,) = conn.receive_text(raw)
        assert isinstance(event, CallReceived)
        conn.send(CallResult(event.message_id, handler(event.payload)))

    return run


def theirs(action: str) -> Callable[[], None]:
    text = orjson.dumps([2, "0b9c6a7e-1f1e-4d1b-9f57-2f6c1c7d9e01", action, PAYLOADS[action]])
    raw = text.decode()
    ocpp_messages.ASYNC_VALIDATION = False

    def run() -> None:
        message = ocpp_messages.unpack(raw)
        coroutine = ocpp_messages.validate_payload(message, "2.0.1")
        with contextlib.suppress(StopIteration):  # it never suspends with ASYNC_VALIDATION off
            coroutine.send(None)

    return run


def rate(fn: Callable[[], None], seconds: float, repeats: int) -> float:
    for _ in range(200):  # warm caches: compiled validators, generated hooks
        fn()
    best = 0.0
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(100):
                fn()
            count += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for action in PAYLOADS:
        mine = rate(ours(action), args.seconds, args.repeats)
        other = rate(theirs(action), args.seconds, args.repeats)
        rows.append((action, mine, other, mine / other))
    print(f"machine: {machine()}")
    if args.markdown:
        print("\n| message | csms.protocol msg/s | ocpp unpack+validate msg/s | ratio |")
        print("|---|---:|---:|---:|")
        for action, mine, other, ratio in rows:
            print(f"| {action} | {mine:,.0f} | {other:,.0f} | {ratio:.1f}x |")
    else:
        print(f"{'message':<18}{'csms.protocol':>16}{'ocpp':>12}{'ratio':>9}")
        for action, mine, other, ratio in rows:
            print(f"{action:<18}{mine:>14,.0f}/s{other:>10,.0f}/s{ratio:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
