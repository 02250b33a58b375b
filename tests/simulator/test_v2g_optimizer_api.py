"""``POST /api/v1/v2g/optimize`` on a real node (SPEC section 6): the operator role, a 422
naming the field, the plan of a plugged-in opted-in 2.1 EV (the simulator's), and a run that
starts exactly what its plan has due at its instant. The node's own optimizer plans by the
machine's clock, so what is due depends on the hour; the checks hold at any hour."""

from __future__ import annotations

import datetime as dt

from csms.actors.optimizer import REQUESTED_BY
from csms.api import create_token
from csms.protocol import Version
from csms.simulator import open_simulator

from ..api.conftest import client
from .v2g_end_to_end import (
    E2E_MARKS,
    STATION,
    USER,
    clock,
    e2e_node,
    hang_guard,
    meter_tick,
    plug_in,
    station_config,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS

PATH = "/api/v1/v2g/optimize"


async def test_optimize_needs_the_operator_role_and_names_a_bad_field(database_url):
    async with e2e_node(database_url) as rig:
        viewer = create_token(database_url, "viewer", "watcher")
        async with client(rig.node, viewer) as as_viewer:
            assert (await as_viewer.post(PATH, json={"dryRun": True})).status_code == 403
        bad = await rig.api.post(PATH, json={"dryRun": "yes"})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "dryRun"
        bad = await rig.api.post(PATH, json={"stationId": "no spaces allowed"})
        assert (bad.status_code, bad.json()["error"]["field"]) == (422, "stationId")
        empty = await rig.api.post(PATH)  # no body: plan now, nothing plugged in
        assert empty.status_code == 200, empty.text
        body = empty.json()
        assert (body["plans"], body["actions"], body["dryRun"]) == ([], [], False)
        assert dt.datetime.fromisoformat(body["at"]).utcoffset() == dt.timedelta(hours=-3)


async def test_a_dry_run_plans_and_a_run_starts_what_is_due(database_url, clock):
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup(min_soc=20)
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            await plug_in(rig, sim)
            await sim.state.wait_for(lambda: sim.state.settled)
            await meter_tick(clock, sim)
            dry = await rig.api.post(PATH, json={"dryRun": True, "stationId": STATION})
            assert dry.status_code == 200, dry.text
            (plan,) = dry.json()["plans"]
            assert (plan["stationId"], plan["evseId"], plan["userId"]) == (STATION, 1, USER)
            # 10 kWh at 50 %, offering 4 kWh above its 10 %: at most that, at most 11 kW
            assert plan["budgetKwh"] == 4
            assert plan["energyKwh"] <= 4
            assert all(0 < i["powerKw"] <= 11 for i in plan["intervals"])
            assert plan["reason"] is None or plan["intervals"] == []
            assert dry.json()["actions"] == []
            assert (await rig.api.get("/api/v1/v2g/sessions")).json()["items"] == []

            run = (await rig.api.post(PATH, json={"stationId": STATION})).json()
            at = dt.datetime.fromisoformat(run["at"])
            (plan,) = run["plans"]
            due = [
                i
                for i in plan["intervals"]
                if dt.datetime.fromisoformat(i["start"]) <= at < dt.datetime.fromisoformat(i["end"])
            ]
            sessions = (await rig.api.get("/api/v1/v2g/sessions")).json()["items"]
            if due:
                (action,) = run["actions"]
                assert (action["action"], action["error"]) == ("start", None)
                assert action["powerKw"] == due[0]["powerKw"]
                (session,) = sessions
                assert (session["id"], session["requestedBy"]) == (
                    action["sessionId"],
                    REQUESTED_BY,
                )
                # the node's optimizer is off: the session ends where its plan does
                planned_end = max(dt.datetime.fromisoformat(i["end"]) for i in plan["intervals"])
                assert session["endsBy"] is not None
                assert dt.datetime.fromisoformat(session["endsBy"]) <= planned_end
            else:
                assert (run["actions"], sessions) == ([], [])
