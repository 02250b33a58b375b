"""V2G in the browser: an operator starts a discharge with the V2G page's form against a node
with the simulator's V2X station, lands on the session's page and sees it reach discharging
live, then stops it from there."""

from __future__ import annotations

from playwright.async_api import expect

from csms.protocol import Version
from csms.simulator import open_simulator

from ..api.conftest import base_url
from ..simulator.v2g_end_to_end import (
    E2E_MARKS,
    STATION,
    clock,
    e2e_node,
    hang_guard,
    plug_in,
    profile_cleared,
    station_config,
)
from .conftest import ADMIN_TOKEN, Browser

__all__ = ["clock"]  # fixtures

pytestmark = E2E_MARKS


async def test_an_operator_starts_and_stops_a_discharge_from_the_v2g_page(
    database_url, clock, browser: Browser
):
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            await plug_in(rig, sim)
            url = base_url(rig.node)
            await browser.sign_in(url, ADMIN_TOKEN)

            async def start(page) -> None:
                await page.goto(url + "/v2g")
                await page.fill("input[name=stationId]", STATION)
                await page.fill("input[name=evseId]", "1")
                await page.fill("input[name=powerKw]", "7")
                await page.click("form[action='/v2g/start'] button[type=submit]")
                await page.wait_for_url(url + "/v2g/*")
                await page.wait_for_selector("body[data-stream-state=open]")
                # the station applies the profile after the page loaded: the page follows live
                await expect(page.locator("[data-figure=state]")).to_have_text("discharging")

            await browser.run(start)
            assert sim.state.model.evse(1).profile_w == -7000

            async def stop(page) -> None:
                await page.click("#v2g-session-live form button[type=submit]")
                await expect(page.locator("[data-figure=state]")).to_have_text("completed")

            await browser.run(stop)
            await sim.state.wait_for(lambda: profile_cleared(sim))
