"""A whole node serving the dashboard, tokens of each role, simulated stations, and a real
headless browser (Debian's chromium driven by Playwright, on an asyncio thread)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from csms.actors import Node
from csms.api import create_token
from csms.runtime import AsyncioThread
from csms.simulator import Simulator, open_simulator

from ..api.conftest import ADMIN_TOKEN, base_url, node
from ..simulator.conftest import fast_config, register

CHROMIUM = "/usr/bin/chromium"

__all__ = ["ADMIN_TOKEN", "Browser", "node", "sign_in", "simulator"]


@pytest.fixture
def url(node: Node) -> str:
    return base_url(node)


@pytest.fixture
def operator_token(database_url: str) -> str:
    return create_token(database_url, "operator", "dash-operator")


@pytest.fixture
def viewer_token(database_url: str) -> str:
    return create_token(database_url, "viewer", "dash-viewer")


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    """Sign ``client`` in through the form, as a browser does (the login CSRF cookie first)."""
    form = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = await client.post("/login", data={"csrf": csrf.group(1), "token": token})
    assert answer.status_code == 303, answer.text


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@contextlib.asynccontextmanager
async def simulator(
    node: Node, database_url: str, station_id: str, **kw: Any
) -> AsyncIterator[Simulator]:
    """A registered simulated station, once it is connected and booted."""
    register(database_url, station_id)
    async with open_simulator(fast_config(node, station_id, **kw)) as sim:
        await sim.state.wait_for(lambda: sim.state.online)
        yield sim


class Browser:
    """One chromium page, driven from trio: ``await browser.run(fn)`` runs ``fn(page)`` (an
    async function of Playwright's asyncio API) on the browser's thread."""

    def __init__(self, thread: AsyncioThread, page: Any) -> None:
        self.thread = thread
        self.page = page

    async def run(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await fn(self.page)

        return await self.thread.run(call)

    async def sign_in(self, url: str, token: str) -> None:
        async def go(page: Any) -> None:
            await page.goto(url + "/login")
            await page.fill("#token", token)
            await page.click("button[type=submit]")
            await page.wait_for_url(url + "/")
            # the live stream is open: what happens from now on reaches the page
            await page.wait_for_selector("body[data-stream-state=open]")

        await self.run(go)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright, expect

    # a deadline for what the page must come to show, not a figure the test measures
    expect.set_options(timeout=30_000)

    thread = AsyncioThread(name="chromium")
    await thread.start()
    state: dict[str, Any] = {}

    async def launch() -> Any:
        state["pw"] = await async_playwright().start()
        state["browser"] = await state["pw"].chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        state["context"] = await state["browser"].new_context(
            viewport={"width": 1280, "height": 900}
        )
        page = await state["context"].new_page()
        page.set_default_timeout(30_000)
        state["errors"] = []
        page.on("pageerror", lambda exc: state["errors"].append(str(exc)))
        return page

    try:
        page = await thread.run(launch)
        yield Browser(thread, page)
        assert state["errors"] == [], state["errors"]
    finally:

        async def close() -> None:
            if "browser" in state:
                await state["browser"].close()
            if "pw" in state:
                await state["pw"].stop()

        await thread.run(close)
        await thread.stop()
