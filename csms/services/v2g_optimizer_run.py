"""What one run of the V2G optimizer does with its plans (pure): which discharge sessions to
start, stop or set to a new power now, and what the run reports (``OptimizerRun``, the answer
of ``POST /api/v1/v2g/optimize``).

The optimizer only touches its own sessions: an EVSE whose session an operator started is left
alone (and not planned). A session of the optimizer goes on while its EV's plan has an interval
at this instant (at that interval's power), and is stopped when it has none; an EV with an
interval now and no session gets one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal

import attrs

from .v2g_optimizer import EVPlan

__all__ = ["Action", "ActionOutcome", "OptimizerRun", "Running", "actions"]

#: Sessions that are ending already: nothing to stop or change.
_ENDING = frozenset({"stopping", "completed", "failed"})


@attrs.frozen
class Running:
    """An active discharge session on an EVSE; ``own``: the optimizer started it."""

    session_id: uuid.UUID
    station_id: str
    evse_id: int
    own: bool
    power_w: Decimal
    state: str


@attrs.frozen
class Action:
    kind: Literal["start", "stop", "power"]
    station_id: str
    evse_id: int
    #: start and power: the power to discharge at, W.
    power_w: Decimal | None = None
    #: stop and power: the session.
    session_id: uuid.UUID | None = None
    #: start: the end of the planned session (its contiguous intervals).
    until: dt.datetime | None = None


@attrs.frozen
class ActionOutcome:
    action: Action
    #: The session started, stopped or changed; None when refused.
    session_id: uuid.UUID | None
    #: Why it did not happen (a start's refusal code, ``unavailable``), else None.
    error: str | None = None


@attrs.frozen
class OptimizerRun:
    """A run: when it planned, whether only planned (``dry_run``), whether a price in the
    forecast rests on the simulated PLD, every EV's plan and what was done."""

    at: dt.datetime
    dry_run: bool
    simulated: bool
    plans: tuple[EVPlan, ...]
    outcomes: tuple[ActionOutcome, ...] = ()

    def next_change(self) -> dt.datetime | None:
        """The first planned start or end after ``at``: when to run again at the latest."""
        edges = [
            edge
            for plan in self.plans
            for interval in plan.intervals
            for edge in (interval.start, interval.end)
            if edge > self.at
        ]
        return min(edges, default=None)


def actions(plans: Sequence[EVPlan], running: Iterable[Running], now: dt.datetime) -> list[Action]:
    """What to do at ``now``: starts, power changes and stops, in that order per EVSE."""
    sessions = {(r.station_id, r.evse_id): r for r in running}
    todo: list[Action] = []
    planned: set[tuple[str, int]] = set()
    for plan in plans:
        key = (plan.station_id, plan.evse_id)
        due = plan.due(now)
        session = sessions.get(key)
        if due is None:
            continue
        planned.add(key)
        if session is None:
            until = next(end for start, end in plan.sessions() if start <= now < end)
            todo.append(Action("start", *key, power_w=due.power_w, until=until))
        elif session.own and session.state not in _ENDING and session.power_w != due.power_w:
            todo.append(Action("power", *key, power_w=due.power_w, session_id=session.session_id))
    for key, session in sessions.items():
        if session.own and key not in planned and session.state not in _ENDING:
            todo.append(Action("stop", *key, session_id=session.session_id))
    return todo
