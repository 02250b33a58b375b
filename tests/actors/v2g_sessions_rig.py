"""Discharge sessions resumed from PostgreSQL by a real ``v2g_sessions`` actor, for the tests of
the sessions' ticker and records; trio's clock is the test's ``MockClock``, which the sessions'
wall clock follows from ``BASE``."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import attrs
import trio
import trio.testing

from csms.actors.database import DatabasePool
from csms.actors.events import EventBus
from csms.actors.gateway import LocalStationGateway
from csms.actors.v2g import V2G_SESSIONS
from csms.actors.v2g._deps import SessionDeps
from csms.actors.v2g._messages import SessionOptions
from csms.actors.v2g._sessions import V2GSessions
from csms.actors.v2g._ticker import SessionTicker
from csms.protocol import Version
from csms.runtime import ChildSpec, DynamicSupervisor, Strategy, Supervisor
from csms.services.v2g_session import (
    ProfileAnswer,
    SessionPolicy,
    SessionState,
    StartAccepted,
    StartRequest,
    state_to_json,
)
from csms.storage import connect, stations
from csms.storage import v2g_sessions as repo

from ..services.v2g_examples import BPT_EV, OPTED_IN, V2X_STATION

BASE = dt.datetime(2026, 3, 2, 21, 30, tzinfo=dt.UTC)  # Monday 18:30 in Sao Paulo
INTERVAL = 1.0


class Clock:
    """The sessions' wall clock on trio's: ``BASE`` when the test starts."""

    def __init__(self) -> None:
        self.t0 = trio.current_time()

    def __call__(self) -> dt.datetime:
        return BASE + dt.timedelta(seconds=trio.current_time() - self.t0)


def discharging(station_id: str, policy: SessionPolicy, **overrides) -> SessionState:
    request = StartRequest(
        session_id=str(uuid.uuid4()),
        station_id=station_id,
        evse_id=1,
        transaction_id=f"tx-{station_id}",
        user_id="u1",
        version=Version.V21,
        station=V2X_STATION,
        capability=BPT_EV,
        preferences=OPTED_IN,
        power_w=Decimal(6000),
        now=BASE,
        **overrides,
    )
    decision = policy.start(request)
    assert isinstance(decision, StartAccepted)
    state, _ = policy.step(decision.state, ProfileAnswer(BASE, accepted=True))
    return state


def store(database_url: str, states: list[SessionState]) -> None:
    """The stations, their active transactions and the sessions' rows, as a node left them."""
    with connect(database_url) as conn:
        for state in states:
            stations.create(conn, state.station_id)
            conn.execute(
                "INSERT INTO transactions (station_id, transaction_id, state, evse_id,"
                " started_at, last_seq_no) VALUES (%s, %s, 'Active', 1, %s, 0)",
                (state.station_id, state.transaction_id, BASE),
            )
            repo.create(
                conn,
                repo.NewSession(
                    id=uuid.UUID(state.session_id),
                    station_id=state.station_id,
                    evse_id=state.evse_id,
                    requested_by="test",
                    target_power_w=state.requested_w,
                    min_soc_percent=state.min_soc_percent,
                    ocpp_version=state.version.value,
                    state=state.state,
                    transaction_id=state.transaction_id,
                    setpoint_w=state.setpoint_w,
                    policy_state=state_to_json(state),
                ),
            )
        conn.commit()


@attrs.define
class Sessions:
    root: Supervisor
    deps: SessionDeps
    #: ``v2g.session.*`` events as published, and the completed ones alone.
    events: trio.MemoryReceiveChannel[Any]
    completed: trio.MemoryReceiveChannel[Any]


@contextlib.asynccontextmanager
async def sessions_node(database_url: str, policy: SessionPolicy) -> AsyncIterator[Sessions]:
    """``v2g_sessions`` with real parts (PostgreSQL, the event bus, a gateway with no station
    connected: every command fails, as to a station that is gone), resuming what is stored."""
    database = DatabasePool(database_url, size=2)
    events = EventBus("test")
    gateway = LocalStationGateway(DynamicSupervisor(name="stations"))
    deps = SessionDeps(
        gateway=gateway,
        database=database,
        events=events,
        options=SessionOptions(tick_interval=INTERVAL, clock=Clock()),
        policy=policy,
    )
    parts = SimpleNamespace(events=events, database=database, gateway=gateway)
    feed = events.subscribe("v2g.session.")
    completed = events.subscribe("v2g.session.completed")
    spec = ChildSpec.actor(V2G_SESSIONS, lambda: V2GSessions(parts, deps), kind="v2g")
    root = Supervisor(Strategy.ONE_FOR_ONE, [spec], name="node")
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(root.run)
            yield Sessions(root, deps, feed.receive, completed.receive)
            await root.stop()
    finally:
        database.close()


async def resumed(s: Sessions, count: int) -> SessionTicker:
    """Until every stored session runs and waits for its deadline."""
    ticker = s.deps.ticker
    assert ticker is not None
    while len(ticker) < count:
        await trio.testing.wait_all_tasks_blocked()
    return ticker


def all_tasks() -> Iterator[Any]:
    """Every trio task of the run."""
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        if task is None:
            continue
        yield task
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
