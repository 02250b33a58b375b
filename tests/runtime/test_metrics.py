"""Counters: mailbox depth, high-water mark, drops, restarts and crashes of every child."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from csms.runtime import (
    ActorCrashed,
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    Strategy,
    Supervisor,
    collect_stats,
)

from .helpers import probe


async def test_collect_stats_walks_the_tree(clock, journal):
    stations = DynamicSupervisor(name="stations", backoff=Backoff(initial=0, jitter=0))
    root = Supervisor(
        Strategy.ONE_FOR_ONE,
        [
            ChildSpec.actor("persistence", probe("persistence", journal), mailbox_size=3),
            ChildSpec.supervisor("stations", stations),
        ],
        backoff=Backoff(initial=0, jitter=0),
        name="node",
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        cp = await stations.start_child(ChildSpec.actor("CP1", probe("CP1", journal)), name="CP1")
        with pytest.raises(ActorCrashed):
            await cp.ask("crash", timeout=1)
        await trio.testing.wait_all_tasks_blocked()
        persistence = root.ref("persistence")
        gate = trio.Event()
        await persistence.tell(("wait", gate))
        await trio.testing.wait_all_tasks_blocked()
        for n in range(3):
            persistence.tell_nowait(n)
        assert persistence.tell_or_drop("lost") is False

        rows = {row.path: row for row in collect_stats(root)}
        assert set(rows) == {"node/persistence", "node/stations", "node/stations/CP1"}
        assert rows["node/persistence"].mailbox_depth == 3
        assert rows["node/persistence"].mailbox_high_water == 3
        assert rows["node/persistence"].dropped == 1
        assert rows["node/stations/CP1"].crashes == 1
        assert rows["node/stations/CP1"].restarts == 1
        assert rows["node/stations/CP1"].generation == 2
        assert rows["node/stations"].kind == "supervisor"
        gate.set()
        await root.stop()
