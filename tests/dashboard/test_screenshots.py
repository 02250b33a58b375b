"""The README's pictures of the dashboard, taken here against a node with the simulator's V2X
station discharging an EV: the overview and the V2G session's page. Every run takes them (in
the test's directory) and checks what they show; with ``CSMS_DASHBOARD_SCREENSHOTS=DIR`` they are
written to DIR too (the README's: ``docs/img``)::

    CSMS_DASHBOARD_SCREENSHOTS=docs/img .venv/bin/pytest tests/dashboard/test_screenshots.py
"""

from __future__ import annotations

import os
import pathlib
import shutil

from playwright.async_api import expect

from csms.protocol import Version

from ..api.conftest import base_url
from ..simulator.v2g_end_to_end import E2E_MARKS, clock, discharge_running, meter_tick
from .conftest import ADMIN_TOKEN, Browser

__all__ = ["clock"]  # fixtures

pytestmark = E2E_MARKS

PNG = b"\x89PNG\r\n\x1a\n"


async def test_screenshots_of_the_overview_and_a_discharging_v2g_session(
    database_url, clock, browser: Browser, tmp_path: pathlib.Path
):
    async with discharge_running(database_url, clock, Version.V21) as (rig, sim, session):
        for _ in range(2):  # minutes of discharge for the chart, above the owner's floor
            await meter_tick(clock, sim)
        url = base_url(rig.node)
        await browser.sign_in(url, ADMIN_TOKEN)

        async def shoot(page) -> None:
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.goto(url + "/")
            await expect(page.locator("[data-figure=v2g]")).to_have_text("1")
            await expect(page.locator("[data-figure=online]")).to_have_text("1")
            await page.wait_for_selector("[data-chart=price] canvas")
            await page.screenshot(path=str(tmp_path / "dashboard-overview.png"), full_page=True)
            await page.goto(url + f"/v2g/{session['id']}")
            await expect(page.locator("[data-figure=state]")).to_have_text("discharging")
            await page.wait_for_selector("[data-chart=series] canvas")
            legend = await page.text_content("#v2g-session-live .u-legend")
            assert "Power export (kW)" in legend
            assert "SoC (%)" in legend
            await page.screenshot(path=str(tmp_path / "dashboard-v2g-session.png"), full_page=True)

        await browser.run(shoot)
    publish(tmp_path)


def publish(taken: pathlib.Path) -> None:
    """Check the pictures, and copy them where ``CSMS_DASHBOARD_SCREENSHOTS`` says."""
    target = os.environ.get("CSMS_DASHBOARD_SCREENSHOTS")
    for name in ("dashboard-overview.png", "dashboard-v2g-session.png"):
        assert (taken / name).read_bytes().startswith(PNG)
        if target:
            pathlib.Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(taken / name, pathlib.Path(target) / name)
