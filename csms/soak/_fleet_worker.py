"""One slice of a soak's fleet in a child process (``python -m csms.soak._fleet_worker``),
driven by `WorkerFleet` in the soak's process over stdin and stdout.

Why a process: one Python process cannot run 2,000 stations on a loaded machine and still
answer the node's pings in time (the node then drops the late ones: the 2,000-station run in
docs/RELIABILITY.md). Each worker runs the same `Fleet` on its slice of station indexes.

The protocol is one JSON object per line. In: ``{"id": n, "op": ..., "token": t, "server": s}``
(``server``: ``attempts`` of the stations connected to that OCPP URL only). Out: the
answer ``{"id": n, ...}`` once the operation is done (waiting operations run concurrently),
and ``{"status": {"online": .., "messages": .., "until": t}, "latency": {..}}`` every
``status_interval`` seconds (the TransactionEvent latencies of the seconds before ``t`` not
sent yet). The last
operation, ``finish``, stops the stations and writes the slice's ledger to the file named on
the command line: acknowledged and pending entries, each station's end, the load statistics.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import sys
import time
from typing import Any

import attrs
import orjson
import trio

from csms import logs
from csms.simulator._ledger import Acknowledged, Delivered
from csms.simulator._loadtest import LoadTestOptions

from ._check import StationEnd
from ._fleet import Fleet

__all__ = ["Slice", "dump_slice", "load_slice", "main"]


def dump_slice(fleet: Fleet) -> bytes:
    return orjson.dumps(
        {
            "acknowledged": [attrs.astuple(e) for e in fleet.entries()],
            "pending": [attrs.astuple(e) for e in fleet.pending()],
            "ends": [attrs.astuple(e) for e in fleet.ends()],
            "deliveries": [attrs.astuple(d) for d in fleet.deliveries()],
            "stats": fleet.stats.dump(),
        }
    )


@attrs.frozen
class Slice:
    """One worker's ledger, read back from its file."""

    acknowledged: list[Acknowledged]
    pending: list[Acknowledged]
    ends: list[StationEnd]
    deliveries: list[Delivered]
    stats: dict[str, Any]


def load_slice(data: bytes) -> Slice:
    raw = orjson.loads(data)
    return Slice(
        [Acknowledged(*e) for e in raw["acknowledged"]],
        [Acknowledged(*e) for e in raw["pending"]],
        [StationEnd(*e) for e in raw["ends"]],
        [Delivered(*d) for d in raw["deliveries"]],
        raw["stats"],
    )


class _Worker:
    def __init__(self, fleet: Fleet, ledger_file: pathlib.Path, status_interval: float) -> None:
        self.fleet = fleet
        self.ledger_file = ledger_file
        self.status_interval = status_interval
        self.out = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))
        self.write_lock = trio.Lock()
        self.marks: dict[int, Any] = {}  # attempts and backlogs, by the token they were sent as
        self.tokens = itertools.count(1)

    async def send(self, message: dict[str, Any]) -> None:
        async with self.write_lock:
            await self.out.send_all(orjson.dumps(message) + b"\n")

    async def status(self) -> None:
        while True:
            online, messages, now = self.fleet.online(), self.fleet.messages, time.time()
            latency = self.fleet.stats.series.take_complete(now)
            status = {"online": online, "messages": messages, "until": int(now)}
            await self.send({"status": status, "latency": latency})
            await trio.sleep(self.status_interval)  # a report's period, not a wait for anything

    async def handle(self, request: dict[str, Any], stop: trio.CancelScope) -> None:
        op, fleet, answer = request["op"], self.fleet, {"id": request["id"]}
        if op == "drop_all":
            answer["dropped"] = await fleet.drop_all()
        elif op in ("attempts", "backlog"):
            token = next(self.tokens)
            server = request.get("server")
            mark = fleet.attempts(server) if op == "attempts" else fleet.backlog()
            self.marks[token] = await mark
            answer["token"] = token
        elif op == "all_back":
            await fleet.all_back(self.marks.pop(request["token"]))
        elif op == "cleared":
            await fleet.cleared(self.marks.pop(request["token"]))
        elif op == "all_online":
            await fleet.all_online()
        elif op == "drained":
            await fleet.drained()
        elif op == "finish":
            stop.cancel()  # the stations stop at once: what is in flight stays pending
            await trio.to_thread.run_sync(self.ledger_file.write_bytes, dump_slice(fleet))
        else:
            answer["error"] = f"unknown operation {op!r}"
        await self.send(answer)

    async def serve(self) -> None:
        inbox = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        buffer = b""
        async with trio.open_nursery() as outer:
            with trio.CancelScope() as stations:
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.fleet.run)
                    await self.send({"started": True})
                    nursery.start_soon(self.status)
                    while True:
                        chunk = await inbox.receive_some()
                        if not chunk:  # the soak went away: nothing more to do
                            return
                        buffer += chunk
                        *lines, buffer = buffer.split(b"\n")
                        for line in lines:
                            request = orjson.loads(line)
                            # finish outlives the stations' scope: it writes after they stop
                            target = outer if request["op"] == "finish" else nursery
                            target.start_soon(self.handle, request, stations)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    options = LoadTestOptions(**orjson.loads(args[0]))
    logs.configure("WARNING", json=False)
    worker = _Worker(Fleet(options), pathlib.Path(args[1]), float(args[2]))
    trio.run(worker.serve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
