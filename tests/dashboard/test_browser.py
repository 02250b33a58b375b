"""The dashboard in a real headless browser (chromium through Playwright) against a whole node
with simulated stations: sign-in, live updates by Server-Sent Events without a reload, a
command and its answer, what a viewer sees, a transaction's chart."""

from __future__ import annotations

import trio
from playwright.async_api import expect

from csms.simulator import _commands as cmd
from csms.simulator import open_simulator

from ..simulator.conftest import fast_config, register
from .conftest import ADMIN_TOKEN, Browser, simulator


async def _mark(page) -> None:
    """A flag a reload would lose."""
    await page.evaluate("window.__noReload = true")


async def _not_reloaded(page) -> None:
    assert await page.evaluate("window.__noReload === true")


async def test_a_station_connecting_reaches_the_open_overview_without_a_reload(
    browser: Browser, url, node, database_url
):
    await browser.sign_in(url, ADMIN_TOKEN)

    async def before(page) -> None:
        assert await page.text_content("[data-figure=online]") == "0"
        await _mark(page)

    await browser.run(before)
    async with simulator(node, database_url, "LIVE1"):

        async def after(page) -> None:
            await expect(page.locator("[data-figure=online]")).to_have_text("1")
            await _not_reloaded(page)

        await browser.run(after)


async def test_the_open_overview_takes_its_figures_from_the_stream_without_fetching(
    browser: Browser, url, node, database_url
):
    """The figures come inside the stream's messages: a station connecting changes the open
    overview's count with no request for the page or a part of it."""
    await browser.sign_in(url, ADMIN_TOKEN)

    async def watch(page) -> list[str]:
        # the overview's fetch of its live part at the stream's start is over once idle
        await page.wait_for_load_state("networkidle")
        assert await page.text_content("[data-figure=online]") == "0"
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        return requested

    requested = await browser.run(watch)
    async with simulator(node, database_url, "FIG1"):

        async def after(page) -> None:
            await expect(page.locator("[data-figure=online]")).to_have_text("1")
            await expect(page.locator("[data-figure=offline]")).to_have_text("0")

        await browser.run(after)
    assert [u for u in requested if not u.startswith(url + "/static/")] == []


async def test_an_operator_resets_a_station_and_sees_its_answer(
    browser: Browser, url, node, database_url, operator_token
):
    async with simulator(node, database_url, "CMD1") as sim:
        await browser.sign_in(url, operator_token)

        async def reset(page) -> str:
            await page.goto(url + "/stations/CMD1")
            await page.select_option("form[data-command=reset] select[name=type]", "OnIdle")
            await page.click("form[data-command=reset] button[type=submit]")
            answer = await page.wait_for_selector("#result-reset [data-outcome=ok]")
            return await answer.text_content()

        text = await browser.run(reset)
        assert '"status":"Accepted"' in text.replace(" ", "")
        assert sim.state.received["Reset"] == 1


async def test_a_connector_status_change_reaches_the_open_station_page(
    browser: Browser, url, node, database_url
):
    async with simulator(node, database_url, "STAT1") as sim:
        state = sim.state
        await state.wait_for(lambda: state.sent["StatusNotification"] >= 1)
        await browser.sign_in(url, ADMIN_TOKEN)

        async def open_page(page) -> None:
            await page.goto(url + "/stations/STAT1")
            await page.wait_for_selector("body[data-stream-state=open]")
            assert await page.text_content("[data-connector='1/1'] .conn") == "Available"
            await _mark(page)

        await browser.run(open_page)
        sent = state.sent["StatusNotification"]
        await sim.ref.ask(cmd.SetStatus(1, "Faulted"), timeout=10)
        await state.wait_for(lambda: state.sent["StatusNotification"] > sent)

        async def faulted(page) -> None:
            await expect(page.locator("[data-connector='1/1'] .conn")).to_have_text("Faulted")
            await _not_reloaded(page)

        await browser.run(faulted)


async def test_a_viewer_sees_no_command_buttons_and_a_forged_post_gets_403(
    browser: Browser, url, node, database_url, viewer_token
):
    async with simulator(node, database_url, "VIEW1") as sim:
        await browser.sign_in(url, viewer_token)

        async def look(page) -> int:
            await page.goto(url + "/stations/VIEW1")
            assert await page.locator("form.command").count() == 0
            csrf = await page.get_attribute("form[action='/logout'] input[name=csrf]", "value")
            # the viewer's own session and CSRF token: refused for the role
            answer = await page.request.post(
                url + "/stations/VIEW1/commands/reset", form={"type": "Immediate", "csrf": csrf}
            )
            return answer.status

        assert await browser.run(look) == 403
        assert sim.state.received["Reset"] == 0


async def test_a_form_posted_from_another_site_is_rejected(
    browser: Browser, url, node, database_url, operator_token
):
    """CSRF: a form without the session's token is refused even with the session cookie."""
    async with simulator(node, database_url, "CSRF1") as sim:
        await browser.sign_in(url, operator_token)

        async def forge(page) -> int:
            answer = await page.request.post(
                url + "/stations/CSRF1/commands/reset", form={"type": "Immediate"}
            )
            return answer.status

        assert await browser.run(forge) == 403
        assert sim.state.received["Reset"] == 0


async def test_a_transaction_page_charts_its_meter_values(
    browser: Browser, url, node, database_url
):
    async with simulator(node, database_url, "TX1") as sim:
        state = sim.state
        await sim.ref.ask(cmd.StartCharging(1), timeout=10)
        await state.wait_for(lambda: state.sent["TransactionEvent"] >= 4)
        await sim.ref.ask(cmd.StopCharging(), timeout=10)
        await state.wait_for(lambda: not state.queue and not state.model.charging())
    await browser.sign_in(url, ADMIN_TOKEN)

    async def chart(page) -> int:
        await page.goto(url + "/transactions")
        await page.click("#transactions-live tbody a >> nth=0")
        await page.wait_for_selector("#transaction-live canvas")
        points = await page.get_attribute("[data-chart=series]", "data-points")
        legend = await page.text_content("#transaction-live .u-legend")
        assert "Energy import (kWh)" in legend
        assert "SoC (%)" in legend
        return int(points or 0)

    with trio.fail_after(120):
        assert await browser.run(chart) >= 2


async def test_a_listed_station_coming_online_updates_the_open_station_list(
    browser: Browser, url, node, database_url
):
    register(database_url, "LIST1")
    await browser.sign_in(url, ADMIN_TOKEN)

    async def open_list(page) -> None:
        await page.goto(url + "/stations")
        await page.wait_for_selector("body[data-stream-state=open]")
        await expect(page.locator("tr[data-station=LIST1] .status")).to_have_text("offline")
        await _mark(page)

    await browser.run(open_list)
    async with open_simulator(fast_config(node, "LIST1")) as sim:
        await sim.state.wait_for(lambda: sim.state.online)

        async def online(page) -> None:
            await expect(page.locator("tr[data-station=LIST1] .status")).to_have_text("online")
            await _not_reloaded(page)

        await browser.run(online)
