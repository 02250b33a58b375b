"""A real node (REST API, OCPP listener, embedded PostgreSQL) and the simulator's own V2X
station and EV, for the discharge sessions' end-to-end tests (test_v2g_end_to_end*.py).

Everything the owner and the station need is created through REST. Time is trio's MockClock at
real speed, which a test moves a meter interval at a time (``jump``): the EV samples its meter
then. The EV's register in the model changes only when the station catches up (a sample, a
command received), so right after a sample it is what the sample said.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing

from csms.actors import Node, NodeParts
from csms.actors.events import Subscription
from csms.domain.events import Event
from csms.protocol import Version
from csms.runtime import Actor, ChildSpec
from csms.simulator import Ev, ReconnectBackoff, Simulator, StationConfig, open_simulator
from csms.simulator import _commands as cmd
from csms.storage import connect as db_connect
from csms.storage.v2x_support import StationSupportRow, get_support

from ..api.conftest import api_node, client

STATION = "V2GSIM1"
USER = "maria"
TOKEN = "V2GTAG0001"
PASSWORD = "simulator-v2g-password-0123"
METER_INTERVAL = 60.0  # virtual seconds between the EV's periodic meter values
NODE_SETTINGS: dict[str, Any] = {
    "ocpp.ping_interval": 3600.0,
    "ocpp.response_timeout": 1e6,  # virtual seconds: a jump must not time a command out
    "v2g.disconnect_grace_s": 5,
}


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Trio's clock at real speed, moved on by the test (``jump``)."""
    return trio.testing.MockClock(rate=1.0)


#: The tests' marks: the node's bootstrap admin token, for the REST client.
E2E_MARKS = pytest.mark.usefixtures("admin_env")


def v2x_ev(**changes: Any) -> Ev:
    """A 10 kWh bidirectional EV at 50 %: a minute at 7 kW takes 1.17 % of it. Its target SoC
    is below the owner's floor, so an end clears the discharge profile (no ChargingOnly one)."""
    base = Ev(
        soc=50.0,
        battery_kwh=10.0,
        v2g=True,
        discharge_kw=11.0,
        charge_kw=11.0,
        min_soc=10.0,
        target_soc=30.0,
        id_token=TOKEN,
        token_type="ISO14443",
        ev_id="EVCCID0001",
    )
    return attrs.evolve(base, **changes)


def station_config(node: Node | int, version: Version, **changes: Any) -> StationConfig:
    """The simulated station of ``node`` (or of the node to listen on that port)."""
    port = node if isinstance(node, int) else node.ocpp_port
    return StationConfig(
        station_id=STATION,
        server=f"ws://127.0.0.1:{port}/ocpp",
        password=PASSWORD,
        version=version,
        ev=changes.pop("ev", None) or v2x_ev(),
        meter_interval=METER_INTERVAL,
        response_timeout=1e9,
        backoff=ReconnectBackoff(wait_minimum=0.05, random_range=0.05, repeat_times=2),
        retry_interval=1.0,
        **changes,
    )


@attrs.define
class Rig:
    """The node, an admin REST client, and the node's ``v2g.`` events."""

    node: Node
    api: httpx.AsyncClient
    events: Subscription
    database_url: str
    #: The export register of the running session's first reading (``discharge_running``).
    first_export: Decimal | None = None

    async def support_known(self) -> None:
        """The node has stored the 2.1 station's V2XChargingCtrlr support (read after boot),
        so the EV's Authorize is answered knowing it."""

        def read() -> StationSupportRow | None:
            with db_connect(self.database_url) as conn:
                return get_support(conn, STATION)

        while await trio.to_thread.run_sync(read) is None:
            await trio.lowlevel.checkpoint()

    async def setup(
        self,
        *,
        min_soc: float = 45,
        bidirectional: bool = False,
        windows: list[dict[str, Any]] | None = None,
        departure_energy_kwh: float | None = None,
        wallet_id: str | None = None,
    ) -> None:
        """The station, the owner (with their wallet, for payouts), their token and their
        opt-in, all through REST."""
        api = self.api
        station = {"id": STATION, "password": PASSWORD, "bidirectional": bidirectional}
        user = {"userId": USER, "name": "Maria", "walletId": wallet_id}
        for path, body in (
            ("/api/v1/stations", station),
            ("/api/v1/users", user),
            ("/api/v1/id-tokens", {"idToken": TOKEN, "type": "ISO14443", "userId": USER}),
            (
                "/api/v1/v2g/preferences",
                {
                    "userId": USER,
                    "optIn": True,
                    "minSocPercent": min_soc,
                    "maxDischargeKw": 11,
                    "maxCyclesPerDay": 3,
                    "windows": windows,
                    "departureEnergyKwh": departure_energy_kwh,
                },
            ),
        ):
            r = await api.post(path, json=body)
            assert r.is_success, (path, r.text)

    async def capability_known(self) -> None:
        """The node has stored the EV's capability from its NotifyEVChargingNeeds (answered
        before it is stored), as REST shows it."""
        path = f"/api/v1/v2g/capability/{STATION}"
        while not (await self.api.get(path)).json()["items"]:
            await trio.lowlevel.checkpoint()

    async def start(self, **body: Any) -> httpx.Response:
        return await self.api.post(
            "/api/v1/v2g/discharge/start", json={"stationId": STATION, "evseId": 1, **body}
        )

    async def session(self, session_id: str) -> dict[str, Any]:
        r = await self.api.get(f"/api/v1/v2g/session/{session_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def event(self, subject: str) -> Event:
        """The next ``v2g.`` event with ``subject``."""
        with trio.fail_after(60):  # a hang guard (the clock is not moved meanwhile)
            async for event in self.events:
                if event.subject == subject:
                    return event
        raise AssertionError("the event feed ended")


@contextlib.asynccontextmanager
async def e2e_node(database_url: str, *, port: int = 0, **overrides: Any) -> AsyncIterator[Rig]:
    feeds: list[Subscription] = []

    def v2g_events(parts: NodeParts) -> ChildSpec:
        # subscribed as the node is built: a session resumed at its start is seen too
        feeds.append(parts.events.subscribe("v2g."))
        return ChildSpec.actor("v2g_events", Actor, kind="test")

    settings = {**NODE_SETTINGS, "ocpp.port": port, **overrides}
    async with (
        api_node(database_url, extra_children=(v2g_events,), **settings) as node,
        client(node) as api,
    ):
        rig = Rig(node, api, feeds[0], database_url)
        try:
            yield rig
        finally:
            node.events.unsubscribe(rig.events)


@contextlib.asynccontextmanager
async def hang_guard(real_seconds: float = 300) -> AsyncIterator[None]:
    """Fail rather than hang, on the wall clock: the test's trio clock is virtual and jumps
    (hours, for a window's end), so a trio deadline would either cut a jump short or, at real
    speed, wait for days. A whole test takes seconds."""
    token = trio.lowlevel.current_trio_token()
    with trio.CancelScope() as scope:
        timer = threading.Timer(real_seconds, lambda: token.run_sync_soon(scope.cancel))
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
    if scope.cancelled_caught:
        raise TimeoutError(f"no end within {real_seconds} s of real time")


async def plug_in(rig: Rig, sim: Simulator) -> None:
    """The EV plugs in: Authorize, TransactionEvent Started, NotifyEVChargingNeeds."""
    state = sim.state
    await state.wait_for(lambda: state.online)
    if state.config.version is Version.V21:  # the node reads V2XChargingCtrlr first
        await rig.support_known()
    await sim.ref.ask(cmd.StartCharging(1), timeout=None)
    await state.wait_for(lambda: state.sent["NotifyEVChargingNeeds"] >= 1)
    await rig.capability_known()


async def discharging(
    rig: Rig, sim: Simulator, power_kw: float = 7, **start: Any
) -> dict[str, Any]:
    """Plugged in, a discharge started through REST and applied by the EV; the session. The
    station is settled: a 2.1 EV's TransactionEvent ChargingRateChanged for the discharge has
    been acknowledged."""
    await plug_in(rig, sim)
    state = sim.state
    started = await rig.start(powerKw=power_kw, **start)
    assert started.status_code in (201, 202), started.text
    while (await rig.event("v2g.session.updated")).state != "discharging":
        pass
    evse = state.model.evse(1)
    assert evse.profile_w == -power_kw * 1000  # the EV follows the setpoint
    await state.wait_for(lambda: state.settled)
    session: dict[str, Any] = started.json()
    return session


async def first_reading(clock: trio.testing.MockClock, sim: Simulator) -> Decimal:
    """The export register of a session's first reading, right after ``discharging``: a 2.1
    EV reported the discharge's start at once (ChargingRateChanged; the clock has stood still
    since), a 2.0.1 EV does with its next periodic sample (one meter interval passes)."""
    if sim.state.config.version is Version.V201:
        await meter_tick(clock, sim)
    return export_register(sim)


@contextlib.asynccontextmanager
async def discharge_running(
    database_url: str, clock: trio.testing.MockClock, version: Version
) -> AsyncIterator[tuple[Rig, Simulator, dict[str, Any]]]:
    """A node, its owner set up, the simulated station discharging the EV at 7 kW, and one
    meter interval passed (the session's first reading taken)."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup(bidirectional=version is Version.V201)
        async with open_simulator(station_config(rig.node, version)) as sim:
            session = await discharging(rig, sim)
            rig.first_export = await first_reading(clock, sim)
            if version is Version.V21:
                await meter_tick(clock, sim)
            yield rig, sim, session


async def meter_tick(clock: trio.testing.MockClock, sim: Simulator) -> None:
    """One meter interval passes: the EV's next periodic sample reaches the node. The clock
    moves once the station is settled, so no message of it waits for the node across the
    jump (whose storage would time out in virtual seconds)."""
    state = sim.state
    await state.wait_for(lambda: state.settled)
    sent = state.sent["TransactionEvent"]
    clock.jump(METER_INTERVAL)
    await state.wait_for(lambda: state.sent["TransactionEvent"] > sent)


def export_register(sim: Simulator) -> Decimal:
    """The EV's export register as its meter values state it (rounded to 1 mWh)."""
    return Decimal(str(round(sim.state.model.evse(1).energy_export_wh, 3)))


def profile_cleared(sim: Simulator) -> bool:
    evse = sim.state.model.evse(1)
    return evse.profile_w is None and not evse.stack.profiles


__all__ = [
    "E2E_MARKS",
    "METER_INTERVAL",
    "NODE_SETTINGS",
    "STATION",
    "TOKEN",
    "USER",
    "Rig",
    "clock",
    "discharge_running",
    "discharging",
    "e2e_node",
    "export_register",
    "first_reading",
    "hang_guard",
    "meter_tick",
    "plug_in",
    "profile_cleared",
    "station_config",
    "v2x_ev",
]
