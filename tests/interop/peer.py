"""Charge points built on the `ocpp` package (mobilityhouse), the independent peer.

They run on asyncio, in an ``AsyncioThread``; the `ocpp` package validates every message the
CSMS sends them against the official schemas (and what they send, too).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect

from csms.actors import Node
from csms.config import load_settings
from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.storage import connect as db_connect
from csms.storage import stations
from csms.transport import hash_password
from tests.node_overrides import node_overrides

PASSWORD = "interop-password-0123"


def _handlers(result: Any) -> type:
    """Answers to every command of SPEC section 5, the same for 2.0.1 and 2.1."""

    class Answers:
        received: list[tuple[str, dict[str, Any]]]

        def _note(self, action: str, kwargs: dict[str, Any]) -> None:
            self.received.append((action, kwargs))

        @on("RequestStartTransaction")
        async def on_start(self, **kw: Any) -> Any:
            self._note("RequestStartTransaction", kw)
            return result.RequestStartTransaction(status="Accepted", transaction_id="tx-remote")

        @on("RequestStopTransaction")
        async def on_stop(self, **kw: Any) -> Any:
            self._note("RequestStopTransaction", kw)
            return result.RequestStopTransaction(status="Accepted")

        @on("Reset")
        async def on_reset(self, **kw: Any) -> Any:
            self._note("Reset", kw)
            return result.Reset(status="Accepted")

        @on("TriggerMessage")
        async def on_trigger(self, **kw: Any) -> Any:
            self._note("TriggerMessage", kw)
            return result.TriggerMessage(status="Accepted")

        @on("SetChargingProfile")
        async def on_set_profile(self, **kw: Any) -> Any:
            self._note("SetChargingProfile", kw)
            return result.SetChargingProfile(status="Accepted")

        @on("ClearChargingProfile")
        async def on_clear_profile(self, **kw: Any) -> Any:
            self._note("ClearChargingProfile", kw)
            return result.ClearChargingProfile(status="Accepted")

        @on("GetChargingProfiles")
        async def on_get_profiles(self, **kw: Any) -> Any:
            self._note("GetChargingProfiles", kw)
            return result.GetChargingProfiles(status="NoProfiles")

        @on("GetCompositeSchedule")
        async def on_composite(self, **kw: Any) -> Any:
            self._note("GetCompositeSchedule", kw)
            return result.GetCompositeSchedule(status="Rejected")

        @on("UpdateFirmware")
        async def on_firmware(self, **kw: Any) -> Any:
            self._note("UpdateFirmware", kw)
            return result.UpdateFirmware(status="Accepted")

        @on("GetVariables")
        async def on_get_variables(self, get_variable_data: list[dict], **kw: Any) -> Any:
            self._note("GetVariables", kw)
            return result.GetVariables(
                get_variable_result=[
                    {
                        "attribute_status": "Accepted",
                        "attribute_value": "60",
                        "component": d["component"],
                        "variable": d["variable"],
                    }
                    for d in get_variable_data
                ]
            )

        @on("SetVariables")
        async def on_set_variables(self, set_variable_data: list[dict], **kw: Any) -> Any:
            self._note("SetVariables", kw)
            return result.SetVariables(
                set_variable_result=[
                    {
                        "attribute_status": "Accepted",
                        "component": d["component"],
                        "variable": d["variable"],
                    }
                    for d in set_variable_data
                ]
            )

        @on("GetBaseReport")
        async def on_base_report(self, **kw: Any) -> Any:
            self._note("GetBaseReport", kw)
            return result.GetBaseReport(status="Accepted")

        @on("UnlockConnector")
        async def on_unlock(self, **kw: Any) -> Any:
            self._note("UnlockConnector", kw)
            return result.UnlockConnector(status="Unlocked")

        @on("ChangeAvailability")
        async def on_availability(self, **kw: Any) -> Any:
            self._note("ChangeAvailability", kw)
            return result.ChangeAvailability(status="Accepted")

        @on("ClearCache")
        async def on_clear_cache(self, **kw: Any) -> Any:
            self._note("ClearCache", kw)
            return result.ClearCache(status="Accepted")

        @on("SendLocalList")
        async def on_local_list(self, **kw: Any) -> Any:
            self._note("SendLocalList", kw)
            return result.SendLocalList(status="Accepted")

        @on("GetLocalListVersion")
        async def on_list_version(self, **kw: Any) -> Any:
            self._note("GetLocalListVersion", kw)
            return result.GetLocalListVersion(version_number=7)

        @on("ReserveNow")
        async def on_reserve(self, **kw: Any) -> Any:
            self._note("ReserveNow", kw)
            return result.ReserveNow(status="Accepted")

        @on("CancelReservation")
        async def on_cancel_reservation(self, **kw: Any) -> Any:
            self._note("CancelReservation", kw)
            return result.CancelReservation(status="Accepted")

        @on("CertificateSigned")
        async def on_certificate_signed(self, **kw: Any) -> Any:
            self._note("CertificateSigned", kw)
            return result.CertificateSigned(status="Accepted")

        @on("InstallCertificate")
        async def on_install_certificate(self, **kw: Any) -> Any:
            self._note("InstallCertificate", kw)
            return result.InstallCertificate(status="Accepted")

        @on("DeleteCertificate")
        async def on_delete_certificate(self, **kw: Any) -> Any:
            self._note("DeleteCertificate", kw)
            return result.DeleteCertificate(status="NotFound")

        @on("GetInstalledCertificateIds")
        async def on_installed_ids(self, **kw: Any) -> Any:
            self._note("GetInstalledCertificateIds", kw)
            return result.GetInstalledCertificateIds(status="NotFound")

        @on("GetLog")
        async def on_get_log(self, **kw: Any) -> Any:
            self._note("GetLog", kw)
            return result.GetLog(status="Accepted", filename="diagnostics.tar.gz")

        @on("DataTransfer")
        async def on_data_transfer(self, **kw: Any) -> Any:
            self._note("DataTransfer", kw)
            return result.DataTransfer(status="Accepted", data="pong")

    return Answers


class Station201(_handlers(result201), ChargePoint201):  # type: ignore[misc]
    pass


class Station21(_handlers(result21), ChargePoint21):  # type: ignore[misc]
    pass


class Peer:
    """One `ocpp`-package charge point, driven from trio through the asyncio thread."""

    def __init__(self, bridge: AsyncioThread, cp: Any, ws: Any) -> None:
        self.bridge = bridge
        self.cp = cp
        self.ws = ws

    async def call(self, payload: Any) -> Any:
        return await self.bridge.run(self.cp.call, payload)

    async def close(self) -> None:
        async def close() -> None:
            await self.ws.close()
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.cp._runner

        await self.bridge.run(close)

    @property
    def received(self) -> list[tuple[str, dict[str, Any]]]:
        return self.cp.received


async def open_peer(
    bridge: AsyncioThread,
    port: int,
    station_id: str,
    *,
    version: str = "ocpp2.0.1",
    password: str = PASSWORD,
    station_class: type | None = None,
) -> Peer:
    """A charge point of ``version`` (``Station201``/``Station21``, or ``station_class``)."""

    async def start() -> tuple[Any, Any]:
        token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        ws = await connect(
            f"ws://127.0.0.1:{port}/ocpp/{station_id}",
            subprotocols=[version],
            additional_headers={"Authorization": f"Basic {token}"},
        )
        cls = station_class or (Station201 if version == "ocpp2.0.1" else Station21)
        cp = cls(station_id, ws, response_timeout=10)
        cp.received = []
        cp._runner = asyncio.get_running_loop().create_task(cp.start())
        return cp, ws

    cp, ws = await bridge.run(start)
    return Peer(bridge, cp, ws)


@contextlib.asynccontextmanager
async def interop_node(
    database_url: str, **overrides: Any
) -> AsyncIterator[tuple[Node, AsyncioThread]]:
    settings = load_settings(
        env={},
        overrides=node_overrides(database_url, **overrides),
    )
    bridge = AsyncioThread(name="ocpp-peers")
    await bridge.start()
    try:
        async with open_node(settings, validate_outbound=True) as node:
            yield node, bridge
    finally:
        await bridge.stop()


def register(database_url: str, station_id: str, *, status: str = "Accepted") -> None:
    with db_connect(database_url) as conn:
        stations.create(
            conn, station_id, password_hash=hash_password(PASSWORD), registration_status=status
        )
        conn.commit()


__all__ = ["PASSWORD", "Peer", "interop_node", "open_peer", "register"]
