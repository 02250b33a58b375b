"""A discharge session follows its station between nodes (SPEC sections 6 and 9): it is run by
the node that holds the station's socket. Node B (a `csms serve` process) runs a session; B is
killed with SIGKILL, the station reconnects to node A, A adopts the session (its profile sent
again) and the transaction's end there ends it, the profile cleared. With both nodes alive, a
station that moves has its session stopped on the node it left before the other adopts it."""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import signal
import uuid
from decimal import Decimal
from typing import Any

import attrs
import pytest
from ocpp.routing import on
from ocpp.v201 import call
from ocpp.v201 import call_result as res

from csms.node import open_node
from csms.protocol import Version
from csms.runtime import AsyncioThread
from csms.services.v2g_session import (
    ProfileAnswer,
    SessionPolicy,
    SessionState,
    StartAccepted,
    StartRequest,
    state_to_json,
)
from csms.services.v2x_capability import StationV2XSupport
from csms.storage import connect
from csms.storage import v2g_sessions as repo
from csms.transport.nats_server import EmbeddedNats
from tests.api.chargepoint import Answering, TestChargePoint, connect_charge_point
from tests.api.conftest import PASSWORD, client, node_settings
from tests.interop.test_durability import free_port
from tests.services.v2g_examples import BPT_EV, NOW, OPTED_IN, SP

from .test_cluster import two_nodes, until
from .test_cluster_processes import running, start_node_b

STATION = "CP-V2G-MOVES"
TRANSACTION = "tx-v2g-moves"


class Discharging(Answering):  # type: ignore[misc]
    """A 2.0.1 station that takes the discharge profile."""

    @on("SetChargingProfile")
    async def on_set_profile(self, **kw: Any) -> Any:
        self._note("SetChargingProfile", kw)
        return res.SetChargingProfile(status="Accepted")


def discharging_state(session_id: uuid.UUID) -> SessionState:
    """A 2.0.1 session past its profile's acceptance (the customData convention's EV)."""
    ev = attrs.evolve(
        BPT_EV,
        requested_mode="AC_three_phase",
        available_modes=("AC_three_phase",),
        source="custom_data",
        discharge_capable=True,
    )
    policy = SessionPolicy(tz=SP)
    decision = policy.start(
        StartRequest(
            session_id=str(session_id),
            station_id=STATION,
            evse_id=1,
            transaction_id=TRANSACTION,
            user_id="u1",
            version=Version.V201,
            station=StationV2XSupport(declared_bidirectional=True),
            capability=ev,
            preferences=OPTED_IN,
            power_w=Decimal(5000),
            now=NOW,
        )
    )
    assert isinstance(decision, StartAccepted)
    state, _ = policy.step(decision.state, ProfileAnswer(NOW, accepted=True))
    assert state.state == "discharging"
    return state


def store_session(database_url: str) -> uuid.UUID:
    """The station's active transaction and a discharging session on it, run by no node yet."""
    session_id = uuid.uuid4()
    state = discharging_state(session_id)
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO transactions (station_id, transaction_id, state, evse_id,"
            " started_at, last_seq_no) VALUES (%s, %s, 'Active', 1, %s, 0)",
            (STATION, TRANSACTION, NOW),
        )
        repo.create(
            conn,
            repo.NewSession(
                id=session_id,
                station_id=STATION,
                evse_id=1,
                requested_by="test",
                target_power_w=state.requested_w,
                min_soc_percent=state.min_soc_percent,
                ocpp_version=state.version.value,
                state=state.state,
                transaction_id=TRANSACTION,
                setpoint_w=state.setpoint_w,
                policy_state=state_to_json(state),
            ),
        )
        conn.commit()
    return session_id


def session_row(database_url: str, session_id: uuid.UUID) -> tuple[str | None, str, str | None]:
    """(the node running it, its state, its end reason)."""
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT node_id, state, end_reason FROM v2g_sessions WHERE id = %s", (session_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def actions(cp: TestChargePoint) -> list[str]:
    return [action for action, _ in cp.received]


async def transaction_ended(bridge: AsyncioThread, cp: TestChargePoint) -> None:
    async def send() -> None:
        await cp.cp.call(
            call.TransactionEvent(
                event_type="Ended",
                timestamp=dt.datetime.now(dt.UTC).isoformat(),
                trigger_reason="EVDeparted",
                seq_no=1,
                transaction_info={
                    "transaction_id": TRANSACTION,
                    "stopped_reason": "EVDisconnected",
                },
                evse={"id": 1, "connector_id": 1},
            )
        )

    await bridge.run(send)


async def ended_by_its_transaction(
    bridge: AsyncioThread,
    database_url: str,
    session_id: uuid.UUID,
    new: TestChargePoint,
    old: TestChargePoint,
) -> None:
    """The transaction ends on the station's new connection: its session ends there, the
    discharge profile cleared once, and nothing reaches the old connection."""
    await transaction_ended(bridge, new)
    await until(lambda: session_row(database_url, session_id)[1] == "completed")
    assert session_row(database_url, session_id)[2] == "transaction_ended"
    assert actions(new).count("ClearChargingProfile") == 1
    assert "ClearChargingProfile" not in actions(old)


@pytest.mark.parametrize("ended_meanwhile", [False, True], ids=["ends_later", "ended_meanwhile"])
async def test_node_b_killed_its_station_on_node_a_has_its_session_adopted_and_ended_there(
    ended_meanwhile: bool,
    database_url: str,
    nats: EmbeddedNats,
    admin_env: str,
    bridge: AsyncioThread,
    tmp_path: pathlib.Path,
) -> None:
    settings = node_settings(
        database_url,
        **{"node.id": "node-a", "nats.url": nats.url, "nats.reap_interval_s": 0.1},
    )
    port_b = free_port()
    b = start_node_b(database_url, nats.url, port_b, tmp_path / "node-b.toml")
    try:
        async with open_node(settings, http=True) as a, client(a) as api:
            await running(b)
            r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
            assert r.status_code == 201, r.text
            old = await connect_charge_point(bridge, port_b, STATION, PASSWORD, cls=Discharging)
            assert (await old.boot()).status == "Accepted"
            await until(lambda: a.gateway.is_connected(STATION))  # B's presence known

            session_id = store_session(database_url)
            # run by B, which holds the station: its profile goes out again from there
            await until(lambda: session_row(database_url, session_id)[0] == "node-b")
            await until(lambda: "SetChargingProfile" in actions(old))

            b.send_signal(signal.SIGKILL)
            await until(lambda: not a.gateway.is_connected(STATION))
            if ended_meanwhile:  # stored while no node ran the session: the adoption ends it
                with connect(database_url) as conn:
                    conn.execute(
                        "UPDATE transactions SET state = 'Ended', ended_at = now()"
                        " WHERE transaction_id = %s",
                        (TRANSACTION,),
                    )
                    conn.commit()
            new = await connect_charge_point(
                bridge, a.ocpp_port, STATION, PASSWORD, cls=Discharging
            )
            assert (await new.boot()).status == "Accepted"
            await until(lambda: session_row(database_url, session_id)[0] == "node-a")
            if ended_meanwhile:
                await until(lambda: session_row(database_url, session_id)[1] == "completed")
                assert session_row(database_url, session_id)[2] == "transaction_ended"
                await until(lambda: "ClearChargingProfile" in actions(new))
                assert actions(new).count("SetChargingProfile") == 0
                await new.close()
                return
            await until(lambda: "SetChargingProfile" in actions(new))
            assert session_row(database_url, session_id)[1] == "discharging"

            await ended_by_its_transaction(bridge, database_url, session_id, new, old)
            await new.close()
    finally:
        if b.poll() is None:
            b.kill()
        b.wait()
        if b.stdout is not None:
            b.stdout.close()


async def test_a_station_taken_over_by_a_live_node_has_its_session_stopped_here_then_adopted(
    database_url: str,
    nats: EmbeddedNats,
    admin_env: str,
    bridge: AsyncioThread,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="csms.v2g")
    async with two_nodes(database_url, nats) as (a, b), client(a) as api:
        r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
        assert r.status_code == 201, r.text
        old = await connect_charge_point(bridge, b.ocpp_port, STATION, PASSWORD, cls=Discharging)
        assert (await old.boot()).status == "Accepted"
        await until(lambda: a.gateway.is_connected(STATION))
        session_id = store_session(database_url)
        await until(lambda: session_row(database_url, session_id)[0] == "node-b")
        await until(lambda: "SetChargingProfile" in actions(old))

        # the station comes back on A while B still holds its old socket: B is told, stops
        # its station actor and its session, gives the session back; A adopts it
        new = await connect_charge_point(bridge, a.ocpp_port, STATION, PASSWORD, cls=Discharging)
        assert (await new.boot()).status == "Accepted"
        await until(lambda: session_row(database_url, session_id)[0] == "node-a")
        await until(lambda: "SetChargingProfile" in actions(new))

        moves = [
            (r.getMessage(), getattr(r, "node", None))
            for r in caplog.records
            if getattr(r, "session", None) == str(session_id)
            and r.getMessage() in ("discharge session handed over", "discharge session adopted")
        ]
        # stopped on B before A's actor started: never two actors writing its row
        assert moves == [
            ("discharge session adopted", "node-b"),
            ("discharge session handed over", "node-b"),
            ("discharge session adopted", "node-a"),
        ]

        await ended_by_its_transaction(bridge, database_url, session_id, new, old)
        await new.close()
