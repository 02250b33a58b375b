"""An `ocpp`-package charge point (mobilityhouse, asyncio) for the API's end-to-end tests.

It runs in an ``AsyncioThread``, answers the commands the device endpoints send, and can be
told to hold its answer to Reset until released (for timeouts and shutdown in flight).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v201 import call as req
from ocpp.v201 import call_result as res
from websockets.asyncio.client import connect

from csms.runtime import AsyncioThread
from tests.interop.peer import Station201

__all__ = ["Answering", "TestChargePoint", "connect_charge_point"]


class Answering(Station201):  # type: ignore[misc]
    """Answers as a healthy station would (the interop peer's answers, with these changes);
    ``received`` lists (action, kwargs) in order."""

    hold_reset: asyncio.Event | None = None
    reset_seen: asyncio.Event | None = None
    set_variables_status = "Accepted"  # the attributeStatus of every SetVariables entry

    @on("RequestStartTransaction")
    async def on_start(self, **kw: Any) -> Any:
        self._note("RequestStartTransaction", kw)
        return res.RequestStartTransaction(status="Accepted", transaction_id="tx-remote-1")

    @on("RequestStopTransaction")
    async def on_stop(self, **kw: Any) -> Any:
        self._note("RequestStopTransaction", kw)
        return res.RequestStopTransaction(status="Rejected")

    @on("Reset")
    async def on_reset(self, **kw: Any) -> Any:
        self._note("Reset", kw)
        if self.reset_seen is not None:
            self.reset_seen.set()
        if self.hold_reset is not None:
            await self.hold_reset.wait()
        return res.Reset(status="Scheduled" if kw.get("type") == "OnIdle" else "Accepted")

    @on("ClearChargingProfile")
    async def on_clear_profile(self, **kw: Any) -> Any:
        self._note("ClearChargingProfile", kw)
        return res.ClearChargingProfile(status="Unknown")

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self._note("GetVariables", {"get_variable_data": get_variable_data, **kw})
        return res.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "300",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in get_variable_data
            ]
        )

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self._note("SetVariables", {"set_variable_data": set_variable_data, **kw})
        return res.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": self.set_variables_status,
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in set_variable_data
            ]
        )


class TestChargePoint:
    """Drives one `Answering` charge point from trio."""

    __test__ = False  # not a pytest test class

    def __init__(self, bridge: AsyncioThread, cp: Answering, ws: Any) -> None:
        self.bridge = bridge
        self.cp = cp
        self.ws = ws

    @property
    def received(self) -> list[tuple[str, dict[str, Any]]]:
        return self.cp.received

    async def boot(self) -> Any:
        message = req.BootNotification(
            charging_station={"model": "API-Test", "vendor_name": "csms"}, reason="PowerUp"
        )
        return await self.bridge.run(self.cp.call, message)

    async def hold_resets(self) -> None:
        async def hold() -> None:
            self.cp.hold_reset = asyncio.Event()
            self.cp.reset_seen = asyncio.Event()

        await self.bridge.run(hold)

    async def wait_for_reset(self) -> None:
        """Until a Reset has arrived (after ``hold_resets``)."""

        async def wait() -> None:
            assert self.cp.reset_seen is not None
            await self.cp.reset_seen.wait()

        await self.bridge.run(wait)

    async def release_resets(self) -> None:
        async def release() -> None:
            if self.cp.hold_reset is not None:
                self.cp.hold_reset.set()

        await self.bridge.run(release)

    async def close(self) -> None:
        async def close() -> None:
            await self.ws.close()
            with contextlib.suppress(websockets.ConnectionClosed, asyncio.CancelledError):
                await self.cp.runner

        await self.bridge.run(close)


async def connect_charge_point(
    bridge: AsyncioThread,
    port: int,
    station_id: str,
    password: str,
    *,
    cls: type[Answering] = Answering,
) -> TestChargePoint:
    async def start() -> tuple[Answering, Any]:
        token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        ws = await connect(
            f"ws://127.0.0.1:{port}/ocpp/{station_id}",
            subprotocols=["ocpp2.0.1"],
            additional_headers={"Authorization": f"Basic {token}"},
        )
        cp = cls(station_id, ws, response_timeout=10)
        cp.received = []
        cp.runner = asyncio.get_running_loop().create_task(cp.start())
        return cp, ws

    cp, ws = await bridge.run(start)
    return TestChargePoint(bridge, cp, ws)
