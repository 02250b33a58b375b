"""OCPP 2.1 V2X (block Q) and ISO 15118 smart charging (K15-K17) at the wire, with charge points
built on the `ocpp` package (which validates every message the CSMS sends) against a whole node
and its V2X owner (csms/actors/v2x)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import connect

from csms.actors import Node
from csms.actors.v2x import GetStationSupport
from csms.runtime import AsyncioThread
from csms.services.v2g_preferences import V2GPreferences
from csms.storage import connect as db_connect
from csms.storage import stations, tokens, users
from csms.transport import hash_password

from .peer import PASSWORD, Peer, interop_node, open_peer

V2X_MODES = "ChargingOnly,CentralSetpoint,CentralFrequency"
BPT = {"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"}
TOKEN = {"id_token": "TAG-ANA", "type": "ISO14443"}  # Ana opted in
OTHER = {"id_token": "TAG-BIA", "type": "ISO14443"}  # Bia did not


class Noting:
    """Notes what the CSMS sends (``received``); ``wait_for`` waits until an action has come
    ``count`` times (on the peers' asyncio thread)."""

    received: list[tuple[str, dict[str, Any]]]
    arrived: asyncio.Condition

    async def _note(self, action: str, kw: dict[str, Any]) -> None:
        self.received.append((action, kw))
        async with self.arrived:
            self.arrived.notify_all()

    async def wait_for(self, action: str, count: int = 1) -> list[dict[str, Any]]:
        def seen() -> list[dict[str, Any]]:
            return [kw for a, kw in self.received if a == action]

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(seen()) >= count), 20)
        return seen()


class V2XStation(Noting, ChargePoint21):  # type: ignore[misc]
    """A 2.1 station with ``V2XChargingCtrlr`` variables that accepts what it is sent."""

    variables: dict[str, str]
    #: How many reads of V2XChargingCtrlr to answer with a CALLERROR first.
    failing_reads: int = 0

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict], **kw: Any) -> Any:
        await self._note("GetVariables", {"get_variable_data": get_variable_data, **kw})
        if self.failing_reads and any(
            d["component"]["name"] == "V2XChargingCtrlr" for d in get_variable_data
        ):
            self.failing_reads -= 1
            raise InternalError(description="not now")
        results = []
        for d in get_variable_data:
            value = self.variables.get(f"{d['component']['name']}.{d['variable']['name']}")
            result = {"component": d["component"], "variable": d["variable"]}
            if value is None:
                result["attribute_status"] = "UnknownVariable"
            else:
                result.update(attribute_status="Accepted", attribute_value=value)
            results.append(result)
        return result21.GetVariables(get_variable_result=results)

    @on("SetChargingProfile")
    async def on_set_profile(self, **kw: Any) -> Any:
        await self._note("SetChargingProfile", kw)
        return result21.SetChargingProfile(status="Accepted")

    @on("NotifyAllowedEnergyTransfer")
    async def on_allowed(self, **kw: Any) -> Any:
        await self._note("NotifyAllowedEnergyTransfer", kw)
        return result21.NotifyAllowedEnergyTransfer(status="Accepted")


class Station201(Noting, ChargePoint201):  # type: ignore[misc]
    """A 2.0.1 ISO 15118 station (K15) that accepts the profiles it is sent."""

    @on("SetChargingProfile")
    async def on_set_profile(self, **kw: Any) -> Any:
        await self._note("SetChargingProfile", kw)
        return result201.SetChargingProfile(status="Accepted")


async def open_station(
    bridge: AsyncioThread,
    port: int,
    station_id: str,
    variables: dict[str, str] | None = None,
    *,
    version: str = "ocpp2.1",
    failing_reads: int = 0,
) -> Peer:
    """A ``V2XStation`` (2.1) with ``variables``, or a ``Station201``."""

    async def start() -> tuple[Any, Any]:
        token = base64.b64encode(f"{station_id}:{PASSWORD}".encode()).decode()
        ws = await connect(
            f"ws://127.0.0.1:{port}/ocpp/{station_id}",
            subprotocols=[version],
            additional_headers={"Authorization": f"Basic {token}"},
        )
        if version == "ocpp2.1":
            cp: Any = V2XStation(station_id, ws, response_timeout=10)
            cp.variables, cp.failing_reads = variables or {}, failing_reads
        else:
            cp = Station201(station_id, ws, response_timeout=10)
        cp.received, cp.arrived = [], asyncio.Condition()
        cp._runner = asyncio.get_running_loop().create_task(cp.start())
        return cp, ws

    cp, ws = await bridge.run(start)
    return Peer(bridge, cp, ws)


def v2x_variables(enabled: str = "true", modes: str = V2X_MODES) -> dict[str, str]:
    return {
        "V2XChargingCtrlr.Enabled": enabled,
        "V2XChargingCtrlr.SupportedOperationModes": modes,
    }


def prepare(database_url: str, *station_ids: str) -> None:
    """The stations; Ana (opted in, any time) and Bia (never set preferences), a token each."""
    with db_connect(database_url) as conn:
        for station_id in station_ids:
            stations.create(conn, station_id, password_hash=hash_password(PASSWORD))
        for user_id, token in (("ana", TOKEN), ("bia", OTHER)):
            users.create_user(conn, user_id, user_id.title())
            tokens.upsert_id_token(conn, token["id_token"], token["type"], user_id=user_id)
        opt_in(conn, "ana")
        conn.commit()


def opt_in(conn: Any, user_id: str) -> None:
    """The user opts in to V2G (any time, a 30 % floor, 7 kW at most)."""
    prefs = V2GPreferences(
        user_id=user_id, opt_in=True, min_soc_percent=Decimal(30), max_discharge_w=Decimal(7000)
    )
    users.upsert_preferences(conn, prefs)


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


async def booted(
    node: Any, bridge: AsyncioThread, station_id: str, *, failing_reads: int = 0, **variables: str
) -> Peer:
    peer = await open_station(
        bridge,
        node.ocpp_port,
        station_id,
        v2x_variables(**variables),
        failing_reads=failing_reads,
    )
    answer = await peer.call(
        call21.BootNotification(
            charging_station={"model": "Bidi", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )
    assert answer.status == "Accepted"
    return peer


@contextlib.asynccontextmanager
async def v2x_station(
    database_url: str,
    station_id: str,
    *,
    read: bool = True,
    failing_reads: int = 0,
    **variables: str,
) -> AsyncIterator[tuple[Node, AsyncioThread, Peer]]:
    """A node, and a booted ``V2XStation`` ``station_id`` with ``variables`` (``prepare``),
    whose variables the CSMS has read (unless not ``read``: then maybe not yet)."""
    prepare(database_url, station_id)
    async with interop_node(database_url) as (node, bridge):
        peer = await booted(node, bridge, station_id, failing_reads=failing_reads, **variables)
        if read:
            await variables_read(node, station_id)
        yield node, bridge, peer
        await peer.close()


async def variables_read(node: Any, station_id: str) -> Any:
    """The station's V2X support, once the read its boot started is over."""
    return await node.root.ref("v2x").ask(GetStationSupport(station_id, "ocpp2.1"), timeout=10)


async def start_transaction(
    peer: Peer, token: dict[str, str], tx: str, *, calls: Any = call21
) -> None:
    """The transaction ``tx`` starts on EVSE 1 (``calls``: the version's request classes)."""
    await peer.call(
        calls.TransactionEvent(
            event_type="Started",
            timestamp=iso_now(),
            seq_no=0,
            trigger_reason="Authorized",
            transaction_info={"transaction_id": tx},
            evse={"id": 1, "connector_id": 1},
            id_token=token,
        )
    )


async def station201_in_transaction(
    bridge: AsyncioThread, port: int, station_id: str, transaction_id: str
) -> Peer:
    """A booted 2.0.1 ``Station201`` whose transaction (Bia's token) runs on EVSE 1."""
    peer = await open_station(bridge, port, station_id, version="ocpp2.0.1")
    await peer.call(
        call201.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )
    await start_transaction(peer, OTHER, transaction_id, calls=call201)
    return peer


def bidirectional_needs(requested: str = "DC_BPT") -> call21.NotifyEVChargingNeeds:
    return call21.NotifyEVChargingNeeds(
        evse_id=1,
        charging_needs={
            "requested_energy_transfer": requested,
            "available_energy_transfer": ["DC", "DC_BPT"],
            "control_mode": "DynamicControl",
            "v2x_charging_parameters": {
                "min_charge_power": 1000,
                "max_charge_power": 50000,
                "min_discharge_power": 1000,
                "max_discharge_power": 20000,
            },
        },
    )


def ac_needs(available: list[str] | None = None) -> call21.NotifyEVChargingNeeds:
    needs: dict[str, Any] = {
        "requested_energy_transfer": "AC_three_phase",
        "ac_charging_parameters": {
            "energy_amount": 20000,
            "ev_min_current": 6,
            "ev_max_current": 16,
            "ev_max_voltage": 230,
        },
    }
    if available is not None:
        needs["available_energy_transfer"] = available
    return call21.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs)


def periods(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for s in profile["charging_schedule"] for p in s["charging_schedule_period"]]


async def no_more_after_a_round_trip(peer: Peer) -> None:
    """Whatever the CSMS sends right after an answer reaches the station before the answer to a
    later Heartbeat does."""
    await peer.call(call21.Heartbeat())


async def test_station_v2x_variables_are_read_after_boot_and_stored(database_url):
    """Q01.FR.30: after a 2.1 station's BootNotification the CSMS reads
    V2XChargingCtrlr.Enabled and SupportedOperationModes with GetVariables, keeps them and
    stores them in v2x_station_support."""
    async with v2x_station(database_url, "V2X1") as (node, bridge, peer):
        support = await variables_read(node, "V2X1")
        asked = {
            (d["component"]["name"], d["variable"]["name"])
            for kw in await bridge.run(peer.cp.wait_for, "GetVariables")
            for d in kw["get_variable_data"]
            if d["component"]["name"] == "V2XChargingCtrlr"
        }
        assert asked == {
            ("V2XChargingCtrlr", "Enabled"),
            ("V2XChargingCtrlr", "SupportedOperationModes"),
        }
        assert support.enabled is True
        assert support.operation_modes == frozenset(V2X_MODES.split(","))
        with db_connect(database_url) as conn:
            row = conn.execute(
                "SELECT enabled, operation_modes FROM v2x_station_support WHERE station_id = 'V2X1'"
            ).fetchone()
        assert row == (True, sorted(V2X_MODES.split(",")))


async def test_authorize_carries_allowed_energy_transfer(database_url):
    """Q01.FR.01: an accepted 2.1 Authorize carries allowedEnergyTransfer: the BPT modes for a
    user who opted in, charging modes only for one who did not."""
    async with v2x_station(database_url, "V2X2") as (_node, _bridge, peer):
        ana = await peer.call(call21.Authorize(id_token=TOKEN))
        assert ana.id_token_info["status"] == "Accepted"
        assert set(ana.allowed_energy_transfer) >= BPT
        bia = await peer.call(call21.Authorize(id_token=OTHER))
        assert bia.id_token_info["status"] == "Accepted"
        assert bia.allowed_energy_transfer
        assert not BPT & set(bia.allowed_energy_transfer)


async def test_authorize_while_the_variables_are_read_is_answered_at_once(database_url):
    """Q01.FR.08: an Authorize that comes while the station's V2X variables are being read is
    decided without waiting for them (the station's reader, which the GetVariables answer
    needs, waits for it): the V2X owner answers, no route default."""
    async with v2x_station(database_url, "V2XC", read=False) as (node, _bridge, peer):
        ana = await peer.call(call21.Authorize(id_token=TOKEN))
        assert ana.id_token_info["status"] == "Accepted"
        (route,) = [r for r in node.routes if r.action == "Authorize" and r.name == "v2x"]
        assert (route.stats.routed, route.stats.defaulted) == (1, 0)


async def test_authorize_of_a_station_without_v2x_omits_the_list(database_url):
    """Q01.FR.01 note: no allowedEnergyTransfer for a station whose V2XChargingCtrlr is not
    enabled."""
    async with v2x_station(database_url, "V2X3", enabled="false") as (_node, _bridge, peer):
        ana = await peer.call(call21.Authorize(id_token=TOKEN))
        assert ana.id_token_info["status"] == "Accepted"
        assert ana.allowed_energy_transfer is None


async def test_bidirectional_needs_accepted_then_the_promised_profile(database_url):
    """Q01.FR.07, K15.FR.03/07: BPT needs of a user who opted in are Accepted and followed by a
    SetChargingProfile (TxProfile of the transaction) whose operation mode the station listed;
    the EV's capability is stored before the answer (a discharge start it prompts finds it)."""
    async with v2x_station(database_url, "V2X4") as (_node, bridge, peer):
        await start_transaction(peer, TOKEN, "tx-ana")
        answer = await peer.call(bidirectional_needs())
        assert answer.status == "Accepted"
        with db_connect(database_url) as conn:
            row = conn.execute(
                "SELECT bidirectional, energy_transfer_modes, max_discharge_power_w, source"
                " FROM v2g_capabilities WHERE station_id = 'V2X4' AND evse_id = 1"
            ).fetchone()
        assert row == (True, ["DC", "DC_BPT"], Decimal(20000), "v2x_parameters")
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        profile = sent["charging_profile"]
        assert sent["evse_id"] == 1
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == "tx-ana"
        for period in periods(profile):
            assert period.get("operation_mode", "ChargingOnly") in V2X_MODES.split(",")


async def test_needs_before_the_station_is_known_processing_then_the_profile(database_url):
    """Q01.FR.07, K15.FR.05/07: BPT needs while the station's V2X support is unknown (its
    variables could not be read at boot) are answered Processing; the variables are read
    again and the promised profile follows, in a mode the station listed."""
    async with v2x_station(database_url, "V2XD", failing_reads=1) as (node, bridge, peer):
        assert (await variables_read(node, "V2XD")).enabled is None  # the read at boot failed
        await start_transaction(peer, TOKEN, "tx-ana")
        answer = await peer.call(bidirectional_needs())
        assert answer.status == "Processing"
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        assert sent["charging_profile"]["transaction_id"] == "tx-ana"
        modes = {p.get("operation_mode") for p in periods(sent["charging_profile"])}
        assert modes == {"CentralSetpoint"}
        assert (await variables_read(node, "V2XD")).enabled is True


async def test_bidirectional_needs_of_a_user_who_did_not_opt_in_are_rejected(database_url):
    """Q01.FR.04: a BPT request of a user who has not opted in is Rejected, and no profile
    follows."""
    async with v2x_station(database_url, "V2X5") as (_node, _bridge, peer):
        await start_transaction(peer, OTHER, "tx-bia")
        answer = await peer.call(bidirectional_needs())
        assert answer.status == "Rejected"
        assert "user_not_opted_in" in answer.status_info["additional_info"]
        await no_more_after_a_round_trip(peer)
        assert [a for a, _ in peer.received if a == "SetChargingProfile"] == []


async def test_needs_csms_cannot_decide_are_rejected_not_accepted_without_a_profile(
    database_url,
):
    """Q01.FR.07 / K15: Accepted promises a SetChargingProfile. When the V2X owner cannot read
    the EV's transaction (its table is unreadable for a moment), the needs are Rejected with
    ``InternalError`` ("service not available") instead, and no profile follows."""
    async with v2x_station(database_url, "V2XU") as (_node, _bridge, peer):
        await start_transaction(peer, TOKEN, "tx-ana")
        with db_connect(database_url) as conn:
            conn.execute("ALTER TABLE transactions RENAME TO transactions_away")
        try:
            answer = await peer.call(bidirectional_needs())
        finally:
            with db_connect(database_url) as conn:
                conn.execute("ALTER TABLE transactions_away RENAME TO transactions")
        assert answer.status == "Rejected"
        assert answer.status_info["reason_code"] == "InternalError"
        assert answer.status_info["additional_info"].startswith("csms_unavailable")
        await no_more_after_a_round_trip(peer)
        assert [a for a, _ in peer.received if a == "SetChargingProfile"] == []


async def test_ocpp201_authorize_never_reaches_the_v2x_owner(database_url):
    """The V2X owner's Authorize route takes 2.1 only: a 2.0.1 Authorize is the handler's
    (no allowedEnergyTransfer in 2.0.1) and the route counts nothing."""
    prepare(database_url, "V2X9")
    async with interop_node(database_url) as (node, bridge):
        peer = await open_peer(bridge, node.ocpp_port, "V2X9")
        await peer.call(
            call201.BootNotification(
                charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
            )
        )
        answer = await peer.call(call201.Authorize(id_token=TOKEN))
        assert answer.id_token_info["status"] == "Accepted"
        (route,) = [r for r in node.routes if r.action == "Authorize" and r.name == "v2x"]
        assert (route.stats.routed, route.stats.defaulted) == (0, 0)
        assert [a for a, _ in peer.received] == []  # and no GetVariables for a 2.0.1 station
        await peer.close()
