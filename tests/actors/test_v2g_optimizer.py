"""The V2G optimizer actor in a node (SPEC section 6): on its schedule when enabled, and again when
the prices actor refreshes its prices (``grid.prices.refreshed``); a dry run starts nothing."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio

from csms.actors import Node, prices
from csms.actors.optimizer import LastRun, Optimize, ask_optimizer, optimizer_capability

from ..api.conftest import api_node

NAME = "v2g_optimizer_under_test"


@contextlib.asynccontextmanager
async def node_with(database_url: str, **options) -> AsyncIterator[Node]:
    optimizer = optimizer_capability(NAME, **options)
    async with api_node(
        database_url, extra_children=(optimizer.child,), routes=(optimizer.routes,)
    ) as node:
        yield node


async def runs(node: Node) -> int:
    count, _ = await node.root.ref(NAME).ask(LastRun(), timeout=10)
    return count


async def test_a_price_refresh_makes_the_scheduled_optimizer_plan_again(database_url):
    with trio.fail_after(60):
        # an interval no test waits for: only the start and the refresh make runs
        async with node_with(database_url, enabled=True, interval_s=1e6) as node:
            while await runs(node) < 1:  # the run at start
                await trio.lowlevel.checkpoint()
            before = await runs(node)
            await prices.ask_prices(node.root, prices.RefreshPrices())
            while await runs(node) == before:
                await trio.lowlevel.checkpoint()


async def test_off_it_plans_only_when_asked(database_url):
    async with node_with(database_url) as node:  # v2g.optimizer.enabled is false by default
        assert await runs(node) == 0
        await prices.ask_prices(node.root, prices.RefreshPrices())
        run = await ask_optimizer(node.root, Optimize(dry_run=True), timeout=30, name=NAME)
        assert (run.dry_run, run.plans, run.outcomes) == (True, (), ())
        assert await runs(node) == 1
        # the node's own optimizer is there too, and off
        _, last = await node.root.ref("v2g_optimizer").ask(LastRun(), timeout=10)
        assert last is None
