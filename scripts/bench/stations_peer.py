"""The peer for ``scripts/bench/stations.py``: a minimal CSMS built as the ``ocpp`` package's README
shows it (a ``ChargePoint`` subclass per connection with ``@on`` handlers, served by ``websockets``
on asyncio). It validates every CALL against the schemas (the package's default) and stores
nothing. Besides BootNotification, Heartbeat and MeterValues it answers the transaction flow
of (d): StatusNotification (empty), Authorize (every token Accepted, as the package's examples
do), TransactionEvent (empty, or the token Accepted when the event carries one).

    python scripts/bench/stations_peer.py PORT

Prints ``READY`` once listening and serves until stdin closes. Logging is at WARNING, as the node's
is in the benchmark (the README's INFO level would log every message).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

# Run as a script, this directory comes first on sys.path and ``http.py`` beside this file would
# shadow the standard library's ``http`` (which websockets imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import websockets  # noqa: E402
from ocpp.routing import on  # noqa: E402
from ocpp.v201 import ChargePoint as Cp  # noqa: E402
from ocpp.v201 import call_result  # noqa: E402
from ocpp.v201.enums import (  # noqa: E402
    Action,
    AuthorizationStatusEnumType,
    RegistrationStatusEnumType,
)

logging.basicConfig(level=logging.WARNING)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class ChargePoint(Cp):
    @on(Action.boot_notification)
    def on_boot_notification(self, charging_station: Any, reason: str, **kwargs: Any) -> Any:
        return call_result.BootNotification(
            current_time=now(), interval=3600, status=RegistrationStatusEnumType.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=now())

    @on(Action.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list[Any], **kwargs: Any) -> Any:
        return call_result.MeterValues()

    @on(Action.status_notification)
    def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kwargs: Any
    ) -> Any:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> Any:
        return call_result.Authorize(id_token_info={"status": AuthorizationStatusEnumType.accepted})

    @on(Action.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        trigger_reason: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        **kwargs: Any,
    ) -> Any:
        if kwargs.get("id_token") is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(
            id_token_info={"status": AuthorizationStatusEnumType.accepted}
        )


async def on_connect(websocket: Any) -> None:
    if websocket.subprotocol is None:
        await websocket.close()
        return
    charge_point_id = websocket.request.path.strip("/").rpartition("/")[2]
    cp = ChargePoint(charge_point_id, websocket)
    with contextlib.suppress(websockets.exceptions.ConnectionClosed):
        await cp.start()


async def main(port: int) -> None:
    async with websockets.serve(
        on_connect, "127.0.0.1", port, subprotocols=["ocpp2.0.1"], backlog=1024
    ):  # type: ignore[list-item]
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
