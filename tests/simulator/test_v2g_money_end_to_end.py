"""V2G money end to end: the simulator's OCPP 2.1 V2X station discharges an opted-in EV to its
floor against a real node (REST, PostgreSQL, its money actor), the session's compensation is
recorded once and paid once to the owner's wallet, a fake wallet on loopback that loses its
first answer (SPEC section 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import trio

from csms.protocol import Version
from csms.simulator import open_simulator

from ..actors.fake_wallet import FakeWallet, running_fake_wallet
from .v2g_end_to_end import (
    E2E_MARKS,
    clock,
    discharging,
    e2e_node,
    export_register,
    first_reading,
    hang_guard,
    meter_tick,
    station_config,
    v2x_ev,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


@pytest.fixture
async def wallet(nursery: trio.Nursery) -> AsyncIterator[FakeWallet]:
    async for fake in running_fake_wallet(nursery, fail_first=True):
        yield fake


async def test_a_discharge_to_the_floor_is_compensated_once_and_paid_once(
    database_url, clock, wallet: FakeWallet
):
    overrides = {
        "v2g.wallet.url": wallet.base_url,
        "v2g.wallet.backoff_s": 0,
        "v2g.wallet.interval_s": 0,
        "v2g.compensation.margin_percent": 10,
    }
    async with hang_guard(), e2e_node(database_url, **overrides) as rig:
        await rig.setup(min_soc=45, wallet_id="wallet-maria")
        config = station_config(rig.node, Version.V21, ev=v2x_ev(min_soc=45.0))
        async with open_simulator(config) as sim:
            session = await discharging(rig, sim)
            first = await first_reading(clock, sim)
            while sim.state.model.ev.soc > 45:
                await meter_tick(clock, sim)
            last = export_register(sim)
            completed = await rig.event("v2g.session.completed")
            assert completed.end_reason == "soc_floor"
            recorded = await rig.event("v2g.compensation.recorded")
            paid = await rig.event("v2g.payout.paid")
            await meter_tick(clock, sim)  # time goes on: nothing is recorded or paid again
            assert sim.state.errors == []
        body = await rig.session(session["id"])
        assert Decimal(str(body["exportedWh"])) == last - first > 0
        assert recorded.session_id == session["id"]
        assert Decimal(recorded.exported_kwh) * 1000 == last - first
        gross, margin, net = (Decimal(x) for x in (recorded.gross_rs, recorded.margin_rs,
                                                   recorded.net_rs))  # fmt: skip
        assert gross > 0
        assert net == gross - margin
        assert recorded.price_source == "regulated"
        # the wallet's first answer was lost: the retry carried the same key and paid nothing more
        assert (paid.compensation_id, paid.amount_rs, paid.attempts) == (
            recorded.compensation_id, recorded.net_rs, 2,
        )  # fmt: skip
        assert len(wallet.requests) == 2
        assert {key for key, _ in wallet.requests} == {
            f"v2g-compensation-{recorded.compensation_id}"
        }
        assert [(p.wallet_id, p.amount) for p in wallet.payments] == [("wallet-maria", net)]
        items = (await rig.api.get("/api/v1/v2g/compensations")).json()["items"]
        assert [(i["sessionId"], i["payoutState"]) for i in items] == [(session["id"], "paid")]
        calculated = await rig.api.post(
            "/api/v1/v2g/compensation/calculate", json={"sessionId": session["id"]}
        )
        assert calculated.json()["compensationId"] == recorded.compensation_id
