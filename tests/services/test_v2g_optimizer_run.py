"""What a run of the V2G optimizer does with its plans (SPEC section 6): start what is due, set a
new power, stop its own sessions whose EV is no longer planned now, leave an operator's alone."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs

from csms.services.v2g_optimizer import EVPlan, PlanInterval
from csms.services.v2g_optimizer_run import Action, OptimizerRun, Running, actions

NOW = dt.datetime(2026, 3, 3, 20, 30, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
S1, S2 = uuid.UUID(int=1), uuid.UUID(int=2)


def plan(evse_id: int, *intervals: tuple[dt.datetime, dt.datetime, int]) -> EVPlan:
    return EVPlan(
        station_id="CP1",
        evse_id=evse_id,
        user_id=f"u{evse_id}",
        intervals=tuple(
            PlanInterval(start, end, Decimal(w), Decimal(w)) for start, end, w in intervals
        ),
        energy_wh=Decimal(0),
        value_rs=Decimal(0),
        budget_wh=Decimal(0),
    )


def session(evse_id: int, *, own: bool = True, power: int = 7000, state: str = "discharging"):
    return Running(S1 if evse_id == 1 else S2, "CP1", evse_id, own, Decimal(power), state)


DUE = (NOW - HOUR / 2, NOW + HOUR / 2, 7000)
LATER = (NOW + HOUR, NOW + 2 * HOUR, 7000)


def test_an_ev_due_now_without_a_session_gets_one_until_its_planned_session_ends():
    start = Action("start", "CP1", 1, power_w=Decimal(7000), until=DUE[1])
    assert actions([plan(1, DUE)], [], NOW) == [start]
    assert actions([plan(1, LATER)], [], NOW) == []
    # contiguous intervals at other powers are one session
    longer = plan(1, DUE, (DUE[1], DUE[1] + HOUR, 3000))
    assert actions([longer], [], NOW) == [attrs.evolve(start, until=DUE[1] + HOUR)]


def test_its_own_session_goes_on_at_the_planned_power():
    assert actions([plan(1, DUE)], [session(1)], NOW) == []
    changed = actions([plan(1, DUE)], [session(1, power=5000)], NOW)
    assert changed == [Action("power", "CP1", 1, power_w=Decimal(7000), session_id=S1)]


def test_its_own_session_stops_when_the_plan_has_nothing_now():
    stop = [Action("stop", "CP1", 1, session_id=S1)]
    assert actions([plan(1, LATER)], [session(1)], NOW) == stop
    assert actions([], [session(1)], NOW) == stop  # the EV is no longer planned at all
    assert actions([], [session(1, state="stopping")], NOW) == []  # ending already


def test_an_operators_session_is_left_alone():
    assert actions([plan(1, LATER)], [session(1, own=False)], NOW) == []
    assert actions([plan(1, DUE)], [session(1, own=False, power=3000)], NOW) == []


def test_the_next_change_is_the_first_planned_edge_ahead():
    run = OptimizerRun(NOW, True, False, (plan(1, DUE), plan(2, LATER)))
    assert run.next_change() == DUE[1]
    assert OptimizerRun(NOW, True, False, ()).next_change() is None
