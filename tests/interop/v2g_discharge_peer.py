"""A whole node with the REST API and one OCPP 2.1 V2X charge point built on the `ocpp` package,
for the discharge sessions' end-to-end tests (tests/interop/test_v2g_discharge*.py).

The charge point answers every command as ``Station21`` does, plus what V2X needs
(UpdateDynamicSchedule, NotifyAllowedEnergyTransfer, the ``V2XChargingCtrlr`` variables); the
test drives what the EV does (charging needs, meter values with SoC and the export register).
Each command it receives is also handed to the trio side, so a test waits for the command
rather than for time; a test waits for the node's ``v2g.session.*`` events the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import trio
from ocpp.routing import on
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from csms.actors import Node, NodeParts
from csms.actors.events import Subscription
from csms.domain.events import Event
from csms.runtime import Actor, AsyncioThread, ChildSpec
from csms.services.v2g_preferences import DischargeWindow, V2GPreferences
from csms.storage import connect as db_connect
from csms.storage import stations, tokens, users
from csms.storage.v2x_support import StationSupportRow, upsert_support
from csms.transport import hash_password

from ..api.conftest import ADMIN_TOKEN, api_node, client
from .peer import PASSWORD, Peer, Station21, Station201, open_peer

STATION = "V2G-CP1"
ID_TOKEN = "EV-OWNER-1"
USER = "owner-1"
TRANSACTION = "tx-v2g-1"
#: The keys of a session's JSON: every one present, null where unknown.
SESSION_KEYS = {
    "id",
    "stationId",
    "evseId",
    "transactionId",
    "userId",
    "state",
    "requestedPowerKw",
    "setpointKw",
    "minSocPercent",
    "startedAt",
    "endedAt",
    "endReason",
    "exportedWh",
    "startSoc",
    "lastSoc",
    "lastPowerKw",
    "operationMode",
    "endsBy",
    "requestedBy",
    "createdAt",
}
#: Node settings for these tests: no keepalive ping while a test moves the clock.
NODE_SETTINGS = {"ocpp.ping_interval": 3600.0, "ocpp.response_timeout": 10.0}


class V2XStation(Station21):  # type: ignore[misc]
    """``Station21`` with the V2X commands; rejects discharge profiles when ``reject_discharge``."""

    notify: Callable[[str, dict[str, Any]], None]
    reject_discharge = False
    operation_modes = "ChargingOnly,CentralSetpoint"

    def _note(self, action: str, kwargs: dict[str, Any]) -> None:
        self.received.append((action, kwargs))
        self.notify(action, kwargs)

    @on("SetChargingProfile")
    async def on_set_profile(self, **kw: Any) -> Any:
        self._note("SetChargingProfile", kw)
        status = "Rejected" if self.reject_discharge and is_discharge(kw) else "Accepted"
        return result21.SetChargingProfile(status=status)

    @on("UpdateDynamicSchedule")
    async def on_update_dynamic_schedule(self, **kw: Any) -> Any:
        self._note("UpdateDynamicSchedule", kw)
        return result21.UpdateDynamicSchedule(status="Accepted")

    @on("NotifyAllowedEnergyTransfer")
    async def on_allowed_energy_transfer(self, **kw: Any) -> Any:
        self._note("NotifyAllowedEnergyTransfer", kw)
        return result21.NotifyAllowedEnergyTransfer(status="Accepted")

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict], **kw: Any) -> Any:
        self._note("GetVariables", kw)
        values = {"Enabled": "true", "SupportedOperationModes": self.operation_modes}
        return result21.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": values.get(d["variable"]["name"], "0"),
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in get_variable_data
            ]
        )


class Station201Bidirectional(Station201):  # type: ignore[misc]
    """``Station201`` whose commands are also handed to the trio side (docs/V2G.md: a 2.0.1
    station registered bidirectional discharges on a negative TxProfile limit)."""

    notify: Callable[[str, dict[str, Any]], None]

    def _note(self, action: str, kwargs: dict[str, Any]) -> None:
        self.received.append((action, kwargs))
        self.notify(action, kwargs)

    @on("SetChargingProfile")
    async def on_set_profile(self, **kw: Any) -> Any:
        self._note("SetChargingProfile", kw)
        return result201.SetChargingProfile(status="Accepted")


def is_discharge(set_profile: dict[str, Any]) -> bool:
    """A SetChargingProfile (as the `ocpp` package hands it over) whose period discharges."""
    for schedule in set_profile["charging_profile"]["charging_schedule"]:
        for period in schedule["charging_schedule_period"]:
            if period.get("setpoint", 0) < 0 or period.get("limit", 0) < 0:
                return True
    return False


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def setup_database(
    database_url: str,
    *,
    opt_in: bool = True,
    min_soc: int = 30,
    max_discharge_w: int = 11000,
    windows: tuple[DischargeWindow, ...] = (),
    departure_energy_wh: int | None = None,
    station_modes: list[str] | None = None,
    bidirectional: bool = False,
) -> None:
    """The station (its 2.1 V2X support as its GetVariables will say; ``bidirectional``: the
    2.0.1 registration), the EV's owner with their id token and preferences."""
    with db_connect(database_url) as conn:
        stations.create(
            conn, STATION, password_hash=hash_password(PASSWORD), bidirectional=bidirectional
        )
        users.create_user(conn, USER, "EV owner")
        tokens.upsert_id_token(conn, ID_TOKEN, "ISO14443", user_id=USER)
        users.upsert_preferences(
            conn,
            V2GPreferences(
                user_id=USER,
                opt_in=opt_in,
                min_soc_percent=Decimal(min_soc),
                max_discharge_w=Decimal(max_discharge_w),
                windows=windows,
                max_cycles_per_day=3,
                departure_energy_wh=None
                if departure_energy_wh is None
                else Decimal(departure_energy_wh),
            ),
        )
        upsert_support(
            conn,
            StationSupportRow(
                STATION,
                True,
                ["ChargingOnly", "CentralSetpoint"] if station_modes is None else station_modes,
                [],
                dt.datetime.now(dt.UTC),
            ),
        )
        conn.commit()


class Rig:
    """The node, its REST client, the charge point, and the node's V2G events."""

    def __init__(
        self, node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, events: Subscription
    ) -> None:
        self.node = node
        self.api = api
        self.bridge = bridge
        self.peer: Peer | None = None
        self.seq = 0
        self.version = "ocpp2.1"
        self.events = events
        self._commands_in, self.commands = trio.open_memory_channel[tuple[str, dict[str, Any]]](
            1000
        )

    # -- the charge point -------------------------------------------------------------------

    async def connect(
        self, *, operation_modes: str | None = None, version: str = "ocpp2.1"
    ) -> Peer:
        self.version = version
        calls = self.calls
        token = trio.lowlevel.current_trio_token()
        send = self._commands_in

        def notify(action: str, kwargs: dict[str, Any]) -> None:
            trio.from_thread.run_sync(send.send_nowait, (action, kwargs), trio_token=token)

        base = V2XStation if version == "ocpp2.1" else Station201Bidirectional
        # a class of its own: the node may command it (a resumed session) before it boots
        extra: dict[str, Any] = {"notify": staticmethod(notify)}
        if operation_modes is not None:
            extra["operation_modes"] = operation_modes
        station = type(base.__name__, (base,), extra)
        self.peer = await open_peer(
            self.bridge, self.node.ocpp_port, STATION, version=version, station_class=station
        )
        await self.call(
            calls.BootNotification(
                charging_station={"model": "V2X Wallbox", "vendor_name": "Acme"},
                reason="PowerUp",
            )
        )
        return self.peer

    @property
    def calls(self) -> Any:
        """The `ocpp` package's request classes of the station's version."""
        return call21 if self.version == "ocpp2.1" else call201

    async def call(self, payload: Any) -> Any:
        assert self.peer is not None
        return await self.peer.call(payload)

    async def plug_in(self, *, soc: int = 80) -> None:
        """The EV's transaction starts (its owner's token) with a first SoC."""
        await self.transaction_event("Started", "Authorized", meter=_meter(soc=soc))

    async def transaction_event(
        self, event_type: str, trigger: str, *, meter: list[dict[str, Any]] | None = None
    ) -> None:
        await self.call(
            self.calls.TransactionEvent(
                event_type=event_type,
                timestamp=now_text(),
                seq_no=self.seq,
                trigger_reason=trigger,
                transaction_info={"transaction_id": TRANSACTION},
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": ID_TOKEN, "type": "ISO14443"}
                if event_type == "Started"
                else None,
                meter_value=meter,
            )
        )
        self.seq += 1

    async def needs(
        self,
        *,
        requested: str = "DC_BPT",
        available: tuple[str, ...] = ("DC", "DC_BPT"),
        soc: int = 80,
        max_discharge_w: int = 10000,
        battery_wh: int = 60000,
        target_soc: int | None = None,
        profile_follows: bool = True,
    ) -> Any:
        """NotifyEVChargingNeeds as an ISO 15118-20 bidirectional EV sends it (2.1), or as the
        2.0.1 convention has it (``customData``, docs/V2G.md); then, unless told otherwise,
        the profile the V2X owner's Accepted promises (K15.FR.07), sent once it has stored the
        EV's capability, which a discharge start reads."""
        answer = await self._needs(
            requested, available, soc, max_discharge_w, battery_wh, target_soc
        )
        if profile_follows:
            await self.command("SetChargingProfile", lambda kw: not is_discharge(kw))
        return answer

    async def _needs(
        self,
        requested: str,
        available: tuple[str, ...],
        soc: int,
        max_discharge_w: int,
        battery_wh: int,
        target_soc: int | None,
    ) -> Any:
        dc = {
            "ev_max_current": 200,
            "ev_max_voltage": 500,
            "ev_energy_capacity": battery_wh,
            "state_of_charge": soc,
        }
        if self.version == "ocpp2.0.1":
            return await self.call(
                call201.NotifyEVChargingNeeds(
                    evse_id=1,
                    charging_needs={
                        "requested_energy_transfer": "DC",
                        "dc_charging_parameters": dc,
                    },
                    custom_data={
                        "vendor_id": "org.csms.v2g",
                        "dischargeCapable": True,
                        "maxDischargePower": max_discharge_w,
                        "batteryCapacity": battery_wh,
                    },
                )
            )
        return await self.call(
            call21.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": requested,
                    "available_energy_transfer": list(available),
                    "control_mode": "DynamicControl",
                    "dc_charging_parameters": dc,
                    "v2x_charging_parameters": {
                        "max_charge_power": 11000,
                        "max_discharge_power": max_discharge_w,
                        **({} if target_soc is None else {"targetSoC": target_soc}),
                    },
                },
            )
        )

    async def report(self, *, soc: int, export_wh: int, power_w: int = 7000) -> None:
        """A periodic reading of the transaction: SoC, export register and export power."""
        await self.transaction_event(
            "Updated",
            "MeterValuePeriodic",
            meter=_meter(soc=soc, export_wh=export_wh, power_w=power_w),
        )

    # -- waiting ----------------------------------------------------------------------------

    async def event(self, subject: str) -> Event:
        """The next V2G event with ``subject``."""
        with trio.fail_after(60):  # a hang guard, not a timing assertion
            async for event in self.events:
                if event.subject == subject:
                    return event
        raise AssertionError("the event feed ended")

    async def command(
        self, action: str, accept: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The next command ``action`` the charge point received that ``accept`` takes."""
        with trio.fail_after(60):
            async for received, kwargs in self.commands:
                if received == action and accept(kwargs):
                    return kwargs
        raise AssertionError("the command feed ended")

    async def start(self, **body: Any) -> httpx.Response:
        return await self.api.post(
            "/api/v1/v2g/discharge/start", json={"stationId": STATION, "evseId": 1, **body}
        )


def _meter(
    *, soc: int, export_wh: int | None = None, power_w: int | None = None
) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = [
        {"value": soc, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}}
    ]
    if export_wh is not None:
        values.append(
            {
                "value": export_wh,
                "measurand": "Energy.Active.Export.Register",
                "unit_of_measure": {"unit": "Wh"},
            }
        )
    if power_w is not None:
        values.append(
            {"value": power_w, "measurand": "Power.Active.Export", "unit_of_measure": {"unit": "W"}}
        )
    return [{"timestamp": now_text(), "sampled_value": values}]


@contextlib.asynccontextmanager
async def rig(database_url: str, bridge: AsyncioThread) -> AsyncIterator[Rig]:
    """A node on ``database_url`` (set up by ``setup_database``) with its API client; the
    charge point is connected by ``Rig.connect``."""
    feeds: list[Subscription] = []

    def v2g_events(parts: NodeParts) -> ChildSpec:
        # subscribed as the node is built: a session resumed at its start is seen too
        feeds.append(parts.events.subscribe("v2g."))
        return ChildSpec.actor("v2g_events", Actor, kind="test")

    async with (
        api_node(database_url, extra_children=(v2g_events,), **NODE_SETTINGS) as node,
        client(node, ADMIN_TOKEN) as api,
    ):
        running = Rig(node, api, bridge, feeds[0])
        try:
            yield running
        finally:
            node.events.unsubscribe(running.events)
            if running.peer is not None:
                with contextlib.suppress(Exception):
                    await running.peer.close()


__all__ = [
    "ID_TOKEN",
    "NODE_SETTINGS",
    "SESSION_KEYS",
    "STATION",
    "TRANSACTION",
    "USER",
    "Rig",
    "is_discharge",
    "now_text",
    "rig",
    "setup_database",
]
