"""Load generator for ``scripts/bench/v2g.py``: OCPP 2.1 stations, each with a V2X EV plugged in.

    python scripts/bench/v2g_load.py PORT COUNT [SOURCE_ADDRESS]

Stations are ``V2G{i:06d}`` for ``i`` in ``0 .. COUNT-1``, EV ``i``'s id token ``V2G-EV-{i}``.
One asyncio process, one ``stations_load.Station`` connection each (its frame parser, pre-masked
frames), a coroutine per EV for its own CALLs. Each station boots, then its EV: Authorize,
TransactionEvent Started (SoC 80 %), NotifyEVChargingNeeds (DC_BPT, ``v2xChargingParameters``);
``{"ready": ...}`` is printed once every station has also received the charge-only
SetChargingProfile that the Accepted needs promise (the node has stored the EV's capability).

The station answers GetVariables (``V2XChargingCtrlr``: Enabled, SupportedOperationModes
ChargingOnly,CentralSetpoint), SetChargingProfile, UpdateDynamicSchedule, ClearChargingProfile
and NotifyAllowedEnergyTransfer with Accepted; anything else with a CALLERROR NotImplemented.

Then the parent writes lines on stdin: ``meter`` starts every EV's TransactionEvent Updated
(SoC, Energy.Active.Export.Register, Power.Active.Export) every ``INTERVAL`` s, the EVs spread
evenly over the interval; reading ``n`` of an EV has the export register at ``n * STEP_WH`` Wh,
so the session's ``exportedWh`` names the reading its ``v2g.session.updated`` answers.
``dump`` prints the send times (``time.perf_counter``, the system-wide monotonic clock the node's
probe reads as well) of the readings since the last dump and the times UpdateDynamicSchedule
arrived; ``quit`` ends it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# stations_load beside this file, after the standard library (``http.py`` here must not shadow
# it); importing it takes this directory off sys.path again
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.append(str(_HERE))

import stations_load  # noqa: E402

INTERVAL = 10.0
STEP_WH = 10
START_SOC = 80.0
CONCURRENT_SETUPS = 64
SUPPORT = {"Enabled": "true", "SupportedOperationModes": "ChargingOnly,CentralSetpoint"}
ANSWERED = {
    "SetChargingProfile",
    "UpdateDynamicSchedule",
    "ClearChargingProfile",
    "NotifyAllowedEnergyTransfer",
}


def station_id(i: int) -> str:
    return f"V2G{i:06d}"


def id_token(i: int) -> dict[str, str]:
    return {"idToken": f"V2G-EV-{i}", "type": "ISO14443"}


def transaction_id(i: int) -> str:
    return f"v2g-bench-tx-{i}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def reading(n: int) -> list[dict[str, Any]]:
    """The EV's ``n``-th periodic meter value: SoC falls 0.05 % a reading (far from any floor),
    the export register counts ``STEP_WH`` a reading, 7 kW exported."""
    return [
        {
            "timestamp": _now(),
            "sampledValue": [
                {
                    "value": START_SOC - 0.05 * n,
                    "measurand": "SoC",
                    "unitOfMeasure": {"unit": "Percent"},
                },
                {
                    "value": n * STEP_WH,
                    "measurand": "Energy.Active.Export.Register",
                    "context": "Sample.Periodic",
                    "unitOfMeasure": {"unit": "Wh"},
                },
                {
                    "value": 7000.0,
                    "measurand": "Power.Active.Export",
                    "unitOfMeasure": {"unit": "W"},
                },
            ],
        }
    ]


def needs(i: int) -> dict[str, Any]:
    """NotifyEVChargingNeeds of an ISO 15118-20 bidirectional DC EV (2.1)."""
    return {
        "evseId": 1,
        "timestamp": _now(),
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC_BPT",
            "availableEnergyTransfer": ["DC", "DC_BPT"],
            "controlMode": "DynamicControl",
            "dcChargingParameters": {
                "evMaxCurrent": 200,
                "evMaxVoltage": 500,
                "evEnergyCapacity": 60000,
                "stateOfCharge": START_SOC,
            },
            "v2xChargingParameters": {"maxChargePower": 11000, "maxDischargePower": 10000},
        },
    }


def variables(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": SUPPORT.get(d["variable"]["name"], "0"),
                "component": d["component"],
                "variable": d["variable"],
            }
            for d in request["getVariableData"]
        ]
    }


class Shared:
    def __init__(self) -> None:
        self.errors = 0
        self.error_sample = ""
        self.profiles = 0  # stations that received their first SetChargingProfile
        self.all_profiled: asyncio.Future[None] | None = None
        self.count = 0
        self.sends: list[tuple[int, int, float]] = []  # (station index, reading n, sent at)
        self.uds: list[float] = []  # UpdateDynamicSchedule arrivals
        self.commands: dict[str, int] = {}
        self.ids = itertools.count()
        #: ``pause``: the EVs skip their readings (their schedule and register go on).
        self.paused = False

    def error(self, text: str) -> None:
        self.errors += 1
        self.error_sample = self.error_sample or text[:300]


class V2XStation(stations_load.Station):
    """A ``stations_load.Station`` speaking OCPP 2.1: its EV's CALLs await their answers, the
    node's CALLs are answered at once."""

    def __init__(self, shared: Shared, url: str, index: int, booted: asyncio.Future[None]) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.v2x = shared
        self.index = index
        self.booted = booted
        self.buffer = bytearray()
        self.transport: Any = None
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.profiled = False
        self.seq = 0
        self.handshake: Any = ClientProtocol(parse_uri(url), subprotocols=["ocpp2.1"])  # type: ignore[list-item]
        request = self.handshake.connect()
        token = base64.b64encode(f"{station_id(index)}:{stations_load.PASSWORD}".encode())
        request.headers["Authorization"] = f"Basic {token.decode()}"
        self.handshake.send_request(request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.v2x.error(f"{station_id(self.index)} closed: {exc}")
        if not self.booted.done():
            self.booted.set_exception(ConnectionError(f"closed: {exc}"))
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))

    def _handshake_data(self, data: bytes) -> None:
        from websockets.http11 import Response

        self.handshake.receive_data(data)
        for event in self.handshake.events_received():
            if isinstance(event, Response):
                self.handshake = None
                if event.status_code != 101:
                    self.booted.set_exception(ConnectionError(f"HTTP {event.status_code}"))
                    self.transport.close()
                else:
                    self.booted.set_result(None)
                return

    def _answer(self, payload: bytes) -> None:
        message = json.loads(payload)
        kind, message_id = message[0], message[1]
        if kind == 2:
            self._command(message_id, message[2], message[3])
            return
        future = self.pending.pop(message_id, None)
        if kind == 4:
            self.v2x.error(payload.decode(errors="replace"))
        if future is not None and not future.done():
            future.set_result(message[2] if kind == 3 else None)

    def _command(self, message_id: str, action: str, request: dict[str, Any]) -> None:
        shared = self.v2x
        shared.commands[action] = shared.commands.get(action, 0) + 1
        if action == "UpdateDynamicSchedule":
            shared.uds.append(time.perf_counter())
        if action == "GetVariables":
            answer: list[Any] = [3, message_id, variables(request)]
        elif action in ANSWERED:
            answer = [3, message_id, {"status": "Accepted"}]
        else:
            answer = [4, message_id, "NotImplemented", f"{action} not simulated", {}]
        self.transport.write(stations_load.masked_frame(json.dumps(answer).encode()))
        if action == "SetChargingProfile" and not self.profiled:
            self.profiled = True
            shared.profiles += 1
            if shared.profiles == shared.count and shared.all_profiled is not None:
                shared.all_profiled.set_result(None)

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"e{next(self.v2x.ids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        frame = json.dumps([2, message_id, action, payload]).encode()
        self.transport.write(stations_load.masked_frame(frame))
        return await future

    async def transaction_event(self, event_type: str, **fields: Any) -> Any:
        payload = {
            "eventType": event_type,
            "timestamp": _now(),
            "seqNo": self.seq,
            "transactionInfo": {
                "transactionId": transaction_id(self.index),
                "chargingState": "EVConnected",
            },
            **fields,
        }
        self.seq += 1
        return await self.call("TransactionEvent", payload)

    async def plug_in(self) -> None:
        """Boot, then the EV: Authorize, TransactionEvent Started, its charging needs."""
        boot = {
            "reason": "PowerUp",
            "chargingStation": {"model": "Bench-V2X", "vendorName": "csms"},
        }
        answers = [await self.call("BootNotification", boot)]
        answers.append(await self.call("Authorize", {"idToken": id_token(self.index)}))
        soc = [{"timestamp": _now(), "sampledValue": [{"value": START_SOC, "measurand": "SoC"}]}]
        answers.append(
            await self.transaction_event(
                "Started",
                triggerReason="Authorized",
                idToken=id_token(self.index),
                evse={"id": 1, "connectorId": 1},
                meterValue=soc,
            )
        )
        answers.append(await self.call("NotifyEVChargingNeeds", needs(self.index)))
        for answer in answers:
            status = answer and (
                answer.get("status") or answer.get("idTokenInfo", {}).get("status")
            )
            if status not in (None, "Accepted"):
                self.v2x.error(f"{station_id(self.index)} plug-in: {answer}")

    async def meter(self, offset: float) -> None:
        """A reading every ``INTERVAL`` s from ``offset`` on, on a fixed schedule."""
        loop = asyncio.get_running_loop()
        begin = loop.time() + offset
        for n in itertools.count():
            await asyncio.sleep(max(0.0, begin + n * INTERVAL - loop.time()))
            if self.v2x.paused:
                continue
            self.v2x.sends.append((self.index, n, time.perf_counter()))
            await self.transaction_event(
                "Updated", triggerReason="MeterValuePeriodic", meterValue=reading(n)
            )


async def run(port: int, count: int, source: str) -> None:
    loop = asyncio.get_running_loop()
    shared = Shared()
    shared.count = count
    shared.all_profiled = loop.create_future()
    gate = asyncio.Semaphore(CONCURRENT_SETUPS)
    stations: list[V2XStation] = []
    started = time.perf_counter()

    async def setup(i: int) -> None:
        async with gate:
            url = f"ws://127.0.0.1:{port}/ocpp/{station_id(i)}"
            booted: asyncio.Future[None] = loop.create_future()
            _, proto = await loop.create_connection(
                lambda: V2XStation(shared, url, i, booted),
                "127.0.0.1",
                port,
                local_addr=(source, 0),
            )
            await booted
            stations.append(proto)
            await proto.plug_in()

    await asyncio.gather(*(setup(i) for i in range(count)))
    plugged = time.perf_counter() - started
    await asyncio.wait_for(shared.all_profiled, 120)
    cpu = time.process_time()
    print(
        json.dumps(
            {
                "ready": count,
                "plugged_s": plugged,
                "ready_s": time.perf_counter() - started,
                "errors": shared.errors,
                "error_sample": shared.error_sample,
            }
        ),
        flush=True,
    )
    meters: list[asyncio.Task[None]] = []
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "meter":
            rng = random.Random(0)
            order = sorted(stations, key=lambda _: rng.random())
            meters = [
                asyncio.create_task(st.meter(INTERVAL * k / len(order)))
                for k, st in enumerate(order)
            ]
        elif line in ("pause", "resume"):
            shared.paused = line == "pause"
        elif line == "dump":
            sends, shared.sends = shared.sends, []
            uds, shared.uds = shared.uds, []
            result = {
                "sends": sends,
                "uds": uds,
                "commands": shared.commands,
                "errors": shared.errors,
                "error_sample": shared.error_sample,
                "cpu_s": time.process_time() - cpu,
            }
            print(json.dumps(result), flush=True)
        else:  # quit, or the parent went away
            break
    for task in meters:
        task.cancel()
    for st in stations:
        st.transport.close()


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    source = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    asyncio.run(run(port, count, source))


if __name__ == "__main__":
    main()
