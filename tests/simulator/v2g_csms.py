"""A tiny CSMS built on the `ocpp` package (mobilityhouse) for the simulator's V2X tests.

It runs on asyncio in an ``AsyncioThread`` behind a `websockets` server, answers what a
station sends with `ocpp` handlers (which validate every request against the official
schemas and answer a CALLERROR otherwise) and keeps each CALL it got as raw wire JSON; the
test sends commands through `FakeCsms.command`, whose responses the package validates too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from csms.runtime import AsyncioThread

__all__ = ["FakeCsms", "fake_csms", "sampled"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _point_class(version: str) -> type:
    v21 = version == "ocpp2.1"
    base = ChargePoint21 if v21 else ChargePoint201
    result: Any = result21 if v21 else result201

    class Point(base):  # type: ignore[misc, valid-type]
        allowed: list[str] | None = None  # AuthorizeResponse.allowedEnergyTransfer (2.1)
        needs_status = "Accepted"  # NotifyEVChargingNeedsResponse.status

        received: list[tuple[str, dict[str, Any]]]  # shared by the station's connections

        async def _handle_call(self, msg: Any) -> Any:
            self.received.append((msg.action, msg.payload))
            return await super()._handle_call(msg)

        @on("BootNotification")
        async def on_boot(self, **kw: Any) -> Any:
            return result.BootNotification(current_time=_now(), interval=3600, status="Accepted")

        @on("StatusNotification")
        async def on_status(self, **kw: Any) -> Any:
            return result.StatusNotification()

        @on("Heartbeat")
        async def on_heartbeat(self, **kw: Any) -> Any:
            return result.Heartbeat(current_time=_now())

        @on("Authorize")
        async def on_authorize(self, **kw: Any) -> Any:
            extra = {"allowed_energy_transfer": self.allowed} if v21 and self.allowed else {}
            return result.Authorize(id_token_info={"status": "Accepted"}, **extra)

        @on("TransactionEvent")
        async def on_transaction_event(self, **kw: Any) -> Any:
            return result.TransactionEvent()

        @on("MeterValues")
        async def on_meter_values(self, **kw: Any) -> Any:
            return result.MeterValues()

        @on("NotifyEVChargingNeeds")
        async def on_needs(self, **kw: Any) -> Any:
            return result.NotifyEVChargingNeeds(status=self.needs_status)

    return Point


class FakeCsms:
    def __init__(self, bridge: AsyncioThread, version: str) -> None:
        self.bridge = bridge
        self.version = version
        self.point_class = _point_class(version)
        self.point: Any = None
        self.port = 0
        self.refuse = False  # refuse every handshake: the station stays offline
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._server: Any = None

    async def _serve(self) -> None:
        def process_request(connection: ServerConnection, request: Any) -> Any:
            if self.refuse:  # the handshake fails: the station stays offline
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "offline\n")
            return None

        async def handler(connection: ServerConnection) -> None:
            self.point = point = self.point_class("station", connection, response_timeout=30)
            point.received = self.calls
            with contextlib.suppress(ConnectionClosed):  # the station hung up
                await point.start()

        self._server = await serve(
            handler,
            "127.0.0.1",
            0,
            subprotocols=[self.version],
            process_request=process_request,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def configure(self, **attributes: Any) -> None:
        """Answers of the connected station's handlers (``allowed``, ``needs_status``)."""
        for name, value in attributes.items():
            setattr(self.point_class, name, value)

    async def drop(self) -> None:
        """Close the station's connection and refuse new ones (``refuse`` = False lets it in)."""
        self.refuse = True
        await self.bridge.run(self.point._connection.close)

    async def command(self, payload: Any) -> Any:
        """Send a CSMS command (an ``ocpp`` call dataclass); the validated response."""
        return await self.bridge.run(self.point.call, payload)

    def received(self, action: str) -> list[dict[str, Any]]:
        """The payloads of every ``action`` CALL the station sent, in order."""
        return [payload for name, payload in self.calls if name == action]

    def actions(self) -> list[str]:
        return [name for name, _ in self.calls]


@contextlib.asynccontextmanager
async def fake_csms(version: str) -> AsyncIterator[FakeCsms]:
    bridge = AsyncioThread(name="fake-csms")
    await bridge.start()
    csms = FakeCsms(bridge, version)
    try:
        await bridge.run(csms._serve)
        yield csms
    finally:
        if csms._server is not None:
            await bridge.run(csms._close)
        await bridge.stop()


def sampled(event: dict[str, Any]) -> dict[str, float]:
    """measurand -> value of a TransactionEvent's (or MeterValues') first meter value."""
    values = event["meterValue"][0]["sampledValue"]
    return {v["measurand"]: float(v["value"]) for v in values}
