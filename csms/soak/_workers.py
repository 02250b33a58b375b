"""The soak's fleet split across child processes (``csms soak --workers N``): the same questions
as `Fleet`, each asked of every worker (`csms.soak._fleet_worker`) and answered once all
answered; at the end each worker's ledger file (in the run directory) is read and merged.
"""

from __future__ import annotations

import itertools
import logging
import os
import pathlib
import subprocess
import sys
from functools import partial
from typing import Any

import attrs
import orjson
import trio

from csms.simulator import LoadStats
from csms.simulator._ledger import Acknowledged, Delivered
from csms.simulator._loadtest import LoadTestOptions

from ._check import StationEnd
from ._fleet_worker import load_slice
from ._latency import LatencySeries

__all__ = ["WorkerFleet", "default_workers"]

log = logging.getLogger("csms.soak")


def default_workers(stations: int) -> int:
    """One worker per 500 stations, at most one per CPU (below 2: the fleet stays in-process)."""
    return min(os.cpu_count() or 1, stations // 500)


class WorkerDied(RuntimeError):
    """A fleet worker exited before the soak finished with it."""


class _Child:
    def __init__(
        self, index: int, process: trio.Process, ledger_file: pathlib.Path, latency: LatencySeries
    ) -> None:
        self.index = index
        self.latency = latency  # the fleet's: every worker's seconds merged
        self.process = process
        self.ledger_file = ledger_file
        self.answers: dict[int, trio.MemorySendChannel[dict[str, Any]]] = {}
        self.status: dict[str, int] = {"online": 0, "messages": 0, "until": 0}
        self.started = trio.Event()
        self.finished = False  # its ledger is written: its exit is expected

    async def read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        while chunk := await self.process.stdout.receive_some():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = orjson.loads(line)
                if "status" in message:
                    self.latency.merge(message["latency"])
                    self.status = message["status"]
                elif "started" in message:
                    self.started.set()
                elif (answer := self.answers.pop(message["id"], None)) is not None:
                    answer.send_nowait(message)  # an asker that gave up has no channel left
        if not self.finished:
            raise WorkerDied(f"fleet worker {self.index} exited ({self.process.returncode})")

    async def ask(
        self, ident: int, op: str, token: int | None, server: str | None = None
    ) -> dict[str, Any]:
        assert self.process.stdin is not None
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        self.answers[ident] = send
        try:
            await self.process.stdin.send_all(
                orjson.dumps({"id": ident, "op": op, "token": token, "server": server}) + b"\n"
            )
            return await receive.receive()
        finally:
            self.answers.pop(ident, None)


class WorkerFleet:
    """A `Fleet` of ``workers`` child processes, each with a contiguous slice of the stations."""

    def __init__(self, options: LoadTestOptions, workers: int, run_dir: pathlib.Path) -> None:
        self.options = options
        self.workers = workers
        self.run_dir = run_dir
        self.stats = LoadStats()
        self.latency = LatencySeries()
        self._children: list[_Child] = []
        self._ids = itertools.count(1)
        self._acknowledged: list[Acknowledged] = []
        self._pending: list[Acknowledged] = []
        self._ends: list[StationEnd] = []
        self._deliveries: list[Delivered] = []

    def _slices(self) -> list[LoadTestOptions]:
        total, n = self.options.stations, self.workers
        bounds = [total * i // n for i in range(n + 1)]
        return [
            attrs.evolve(
                self.options,
                first=self.options.first + bounds[i],
                stations=bounds[i + 1] - bounds[i],
                ramp=self.options.ramp / n,  # together: the options' ramp
            )
            for i in range(n)
        ]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the workers; started once each started all its stations; run until cancelled
        (the workers are killed then: `finish` first to keep their ledgers)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        async with trio.open_nursery() as nursery:
            for index, part in enumerate(self._slices()):
                fields = attrs.asdict(part, filter=lambda a, _: a.name != "version")
                ledger_file = self.run_dir / f"fleet-worker-{index}.json"
                command = [sys.executable, "-m", "csms.soak._fleet_worker"]
                command += [orjson.dumps(fields).decode(), str(ledger_file), "1.0"]
                process = await nursery.start(
                    partial(
                        trio.run_process,
                        command,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        check=False,
                    )
                )
                child = _Child(index, process, ledger_file, self.latency)
                self._children.append(child)
                nursery.start_soon(child.read)
            for child in self._children:
                await child.started.wait()
            log.info("fleet workers started", extra={"workers": self.workers})
            task_status.started()

    async def _all(
        self, op: str, tokens: list[int] | None = None, server: str | None = None
    ) -> list[dict[str, Any]]:
        ident = next(self._ids)
        answers: list[dict[str, Any]] = [{} for _ in self._children]

        async def one(child: _Child) -> None:
            token = None if tokens is None else tokens[child.index]
            answers[child.index] = await child.ask(ident, op, token, server)

        async with trio.open_nursery() as nursery:
            for child in self._children:
                nursery.start_soon(one, child)
        return answers

    # --- the questions of `Fleet`, asked of every worker ----------------------------------

    async def drop_all(self) -> int:
        return sum(a["dropped"] for a in await self._all("drop_all"))

    def reported_until(self) -> float:
        """Every second before this one is in `latency`: each worker sent it."""
        return min((c.status["until"] for c in self._children), default=0)

    def online(self) -> int:
        return sum(c.status["online"] for c in self._children)

    @property
    def messages(self) -> int:
        return sum(c.status["messages"] for c in self._children)

    async def all_online(self) -> None:
        await self._all("all_online")

    async def attempts(self, server: str | None = None) -> Any:  # per worker, its mark's token
        return [a["token"] for a in await self._all("attempts", server=server)]

    async def all_back(self, attempts: Any) -> None:
        await self._all("all_back", attempts)

    async def backlog(self) -> Any:
        return [a["token"] for a in await self._all("backlog")]

    async def cleared(self, backlog: Any) -> None:
        await self._all("cleared", backlog)

    async def drained(self) -> None:
        await self._all("drained")

    async def finish(self) -> None:
        """Stop every worker's stations at once and merge the ledgers they wrote."""
        for child in self._children:
            child.finished = True
        await self._all("finish")
        for child in self._children:
            data = await trio.to_thread.run_sync(child.ledger_file.read_bytes)
            part = load_slice(data)
            self._acknowledged += part.acknowledged
            self._pending += part.pending
            self._ends += part.ends
            self._deliveries += part.deliveries
            self.stats.merge_dump(part.stats)

    def entries(self) -> list[Acknowledged]:
        return self._acknowledged

    def pending(self) -> list[Acknowledged]:
        return self._pending

    def ends(self) -> list[StationEnd]:
        return self._ends

    def deliveries(self) -> list[Delivered]:
        return self._deliveries
