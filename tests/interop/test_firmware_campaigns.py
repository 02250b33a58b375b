"""Firmware campaigns end to end: a real node, its REST API, and fleets of `ocpp`-package
charge points that walk the firmware status sequence on their own."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import trio
from ocpp.v201 import call as call201

from csms.actors import NodeParts
from csms.actors.events import Subscription
from csms.domain.events import Event
from csms.runtime import Actor, AsyncioThread, ChildSpec

from ..api.conftest import ADMIN_TOKEN, api_node, client
from .firmware_fleet import Fleet, register_fleet
from .firmware_peer import LOCATION, NODE_SETTINGS

CAMPAIGNS = "/api/v1/firmware/campaigns"


class Rig:
    def __init__(self, node: Any, api: Any, events: Subscription, fleet: Fleet) -> None:
        self.node, self.api, self.events, self.fleet = node, api, events, fleet

    async def event(self, subject: str, **match: Any) -> Event:
        with trio.fail_after(120):  # a hang guard, not a timing assertion
            async for event in self.events:
                if event.subject == subject and all(
                    getattr(event, k) == v for k, v in match.items()
                ):
                    return event
        raise AssertionError("the event feed ended")

    async def create(self, ids: list[str], **body: Any) -> dict[str, Any]:
        answer = await self.api.post(
            CAMPAIGNS,
            json={
                "name": "cp-2.0 rollout",
                "location": LOCATION,
                "stations": [{"id": i} for i in ids],
                **body,
            },
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def campaign(self, campaign_id: str) -> dict[str, Any]:
        return dict((await self.api.get(f"{CAMPAIGNS}/{campaign_id}")).json())


@contextlib.asynccontextmanager
async def rig(
    database_url: str,
    bridge: AsyncioThread,
    ids: list[str],
    *,
    failures: dict[str, str] | None = None,
    versions: dict[str, str] | None = None,
    **settings: Any,
) -> AsyncIterator[Rig]:
    feeds: list[Subscription] = []

    def campaign_events(parts: NodeParts) -> ChildSpec:
        feeds.append(parts.events.subscribe("firmware."))
        return ChildSpec.actor("campaign_events", Actor, kind="test")

    fleet = Fleet(bridge, failures=failures)
    async with (
        api_node(
            database_url, extra_children=(campaign_events,), **{**NODE_SETTINGS, **settings}
        ) as node,
        client(node, ADMIN_TOKEN) as api,
    ):
        await fleet.connect(node, ids, versions or {})
        try:
            yield Rig(node, api, feeds[0], fleet)
        finally:
            await fleet.close()


def fleet_ids(n: int) -> list[str]:
    return [f"FW-{i:03d}" for i in range(n)]


async def test_a_campaign_over_50_stations_counts_right_and_never_exceeds_its_concurrency(
    database_url, admin_env, bridge
):
    ids = fleet_ids(50)
    register_fleet(database_url, ids)
    failing = {ids[7]: "DownloadFailed", ids[21]: "InstallationFailed", ids[40]: "DownloadFailed"}
    current = {ids[3]: "2.0", ids[30]: "2.0"}
    async with rig(database_url, bridge, ids, failures=failing, versions=current) as r:
        created = await r.create(ids, maxConcurrent=5, targetVersion="2.0")
        assert (created["state"], created["counts"]["total"]) == ("running", 50)
        started = await r.event("firmware.campaign.state", campaign_id=created["id"])
        assert (started.state, started.pending) == ("running", 50)
        done = await r.event("firmware.campaign.state", state="completed")
        assert (done.installed, done.failed, done.skipped, done.pending, done.running) == (
            45,
            3,
            2,
            0,
            0,
        )
        assert 1 <= r.fleet.max_active <= 5
        assert len(r.fleet.updates) == 48  # the two on 2.0 were sent nothing
        assert {s for s, _ in r.fleet.updates}.isdisjoint(current)
        body = await r.campaign(created["id"])
        assert body["state"] == "completed"
        assert body["counts"] == {
            "pending": 0,
            "running": 0,
            "installed": 45,
            "failed": 3,
            "skipped": 2,
            "total": 50,
        }
        failed = (
            await r.api.get(f"{CAMPAIGNS}/{created['id']}/stations", params={"state": "failed"})
        ).json()["items"]
        assert {(s["stationId"], s["reason"]) for s in failed} == set(failing.items())
        jobs = (
            await r.api.get(
                "/api/v1/firmware/jobs", params={"campaignId": created["id"], "limit": 100}
            )
        ).json()["items"]
        assert len(jobs) == 48
        assert {j["campaignId"] for j in jobs} == {created["id"]}
        other = await r.api.get("/api/v1/firmware/jobs", params={"campaignId": "0" * 32})
        assert other.json()["items"] == []


async def test_the_failure_threshold_halts_the_campaign(database_url, admin_env, bridge):
    ids = fleet_ids(10)
    register_fleet(database_url, ids)
    failing = {ids[0]: "DownloadFailed", ids[1]: "InvalidSignature", ids[2]: "DownloadFailed"}
    async with rig(database_url, bridge, ids, failures=failing) as r:
        # one at a time, so which stations ran before the halt does not depend on timing
        created = await r.create(ids, maxConcurrent=1, failureThreshold=2)
        halted = await r.event("firmware.campaign.state", state="halted")
        assert halted.reason == "2 stations failed (threshold 2)"
        body = await r.campaign(created["id"])
        assert body["state"] == "halted"
        # nothing was started after the second failure (ids[2] would have failed too)
        assert (body["counts"]["failed"], body["counts"]["pending"]) == (2, 8)
        assert [s for s, _ in r.fleet.updates] == ids[:2]
        refused = await r.api.post(f"{CAMPAIGNS}/{created['id']}/pause")
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "campaign_state")
        canceled = await r.api.post(f"{CAMPAIGNS}/{created['id']}/cancel")
        assert canceled.json()["state"] == "canceled"


async def test_pause_holds_new_jobs_and_resume_finishes_the_campaign(
    database_url, admin_env, bridge
):
    ids = fleet_ids(6)
    register_fleet(database_url, ids)
    async with rig(database_url, bridge, ids) as r:
        await r.fleet.hold()
        created = await r.create(ids, maxConcurrent=2)
        path = f"{CAMPAIGNS}/{created['id']}"
        assert {await r.fleet.next_update(), await r.fleet.next_update()} == set(ids[:2])
        paused = await r.api.post(f"{path}/pause")
        assert paused.json()["state"] == "paused"
        await r.fleet.let_go()  # the two running finish while it is paused
        for _ in range(2):
            await r.event("firmware.campaign.progress", station_state="installed")
        # the campaign takes messages in order: once this is refused, what the two ends set off
        # is done, and it started nothing
        assert (await r.api.post(f"{path}/pause")).status_code == 409
        body = await r.campaign(created["id"])
        assert (body["counts"]["installed"], body["counts"]["running"]) == (2, 0)
        assert body["counts"]["pending"] == 4
        assert len(r.fleet.updates) == 2
        resumed = await r.api.post(f"{path}/resume")
        assert resumed.json()["state"] == "running"
        done = await r.event("firmware.campaign.state", state="completed")
        assert done.installed == 6
        assert r.fleet.max_active <= 2
        assert (await r.api.post(f"{path}/cancel")).status_code == 409  # completed is final
        assert (await r.api.post(f"{CAMPAIGNS}/{'0' * 32}/pause")).status_code == 404


async def test_a_restarted_node_resumes_the_campaign_and_its_running_job(
    database_url, admin_env, bridge
):
    ids = fleet_ids(3)
    register_fleet(database_url, ids)
    async with rig(database_url, bridge, ids) as r:
        await r.fleet.hold()  # the first station's update is still running when the node stops
        created = await r.create(ids, maxConcurrent=1)
        started = await r.event("firmware.update.started", station_id=ids[0])
        request_id = started.request_id
    # the campaign resumes before its stations are back: the offline ones are tried again
    async with rig(database_url, bridge, ids, **{"firmware.campaign_tick_s": 0.2}) as r:
        body = await r.campaign(created["id"])
        assert (body["state"], body["counts"]["running"], body["counts"]["pending"]) == (
            "running",
            1,
            2,
        )
        # the resumed job hears the station it was waiting for; the campaign then goes on
        await r.fleet.peers[ids[0]].call(
            call201.FirmwareStatusNotification(status="Installed", request_id=request_id)
        )
        done = await r.event("firmware.campaign.state", state="completed")
        assert (done.installed, done.failed) == (3, 0)
        assert [s for s, _ in r.fleet.updates] == ids[1:]  # the first was not sent again


async def test_a_station_offline_is_tried_again_then_counted_failed(
    database_url, admin_env, bridge
):
    ids = fleet_ids(3)
    register_fleet(database_url, ids)
    async with rig(database_url, bridge, ids[:2], **{"firmware.campaign_tick_s": 0.05}) as r:
        created = await r.create(ids, maxConcurrent=3)
        done = await r.event("firmware.campaign.state", state="completed")
        assert (done.installed, done.failed) == (2, 1)
        failed = (
            await r.api.get(f"{CAMPAIGNS}/{created['id']}/stations", params={"state": "failed"})
        ).json()["items"]
        assert [(s["stationId"], s["reason"]) for s in failed] == [
            (ids[2], "station_not_connected (3 tries)")  # one try per tick
        ]


async def test_a_campaign_with_no_station_completes_at_once(database_url, admin_env, bridge):
    async with rig(database_url, bridge, []) as r:
        created = await r.create([], maxConcurrent=3)
        done = await r.event("firmware.campaign.state", campaign_id=created["id"])
        assert (done.state, done.pending) == ("completed", 0)


async def test_a_campaign_starts_jobs_only_within_its_window(
    database_url, admin_env, bridge, wall_clock
):
    """A daily window (UTC) that opens in about ten minutes: nothing is sent before, the jobs
    start once the node's clock reaches it."""
    ids = fleet_ids(3)
    register_fleet(database_url, ids)
    opens = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    window = {
        "start": opens.strftime("%H:%M"),
        "end": (opens + dt.timedelta(hours=1)).strftime("%H:%M"),
    }
    async with rig(database_url, bridge, ids, **{"firmware.campaign_tick_s": 0.2}) as r:
        created = await r.create(ids, maxConcurrent=3, window=window)
        assert created["window"] == window
        path = f"{CAMPAIGNS}/{created['id']}"
        # the campaign takes messages in order: paused and resumed, it has looked for slots
        # twice, outside its window
        assert (await r.api.post(f"{path}/pause")).json()["state"] == "paused"
        resumed = (await r.api.post(f"{path}/resume")).json()
        assert (resumed["state"], resumed["counts"]["pending"]) == ("running", 3)
        assert r.fleet.updates == []
        wall_clock.jump(11 * 60)
        done = await r.event("firmware.campaign.state", state="completed")
        assert done.installed == 3
        assert sorted(s for s, _ in r.fleet.updates) == ids


async def test_a_window_that_opens_and_closes_at_once_is_422(database_url, admin_env, bridge):
    async with rig(database_url, bridge, []) as r:
        answer = await r.api.post(
            CAMPAIGNS,
            json={
                "name": "n",
                "location": LOCATION,
                "maxConcurrent": 1,
                "window": {"start": "22:00", "end": "22:00"},
            },
        )
        assert (answer.status_code, answer.json()["error"]["field"]) == (422, "window.end")
        answer = await r.api.post(
            CAMPAIGNS,
            json={
                "name": "n",
                "location": LOCATION,
                "maxConcurrent": 1,
                "window": {"start": "24:00", "end": "01:00"},
            },
        )
        assert answer.status_code == 422
        assert "window.start" in answer.text
