"""Test actors that write what happens to them into a journal the test can wait on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from csms.runtime import Actor, ActorContext, Rejected


class Journal:
    """An append-only list of lifecycle entries with a way to wait for a condition on it."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self._changed = trio.Event()

    def add(self, *entry: Any) -> None:
        self.entries.append(entry)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [e for e in self.entries if e[0] == kind]

    def names(self, kind: str) -> list[str]:
        return [e[1] for e in self.of(kind)]

    async def wait_for(self, predicate: Callable[[Journal], bool]) -> None:
        while not predicate(self):
            await self._changed.wait()

    async def wait_count(self, kind: str, name: str, count: int) -> None:
        await self.wait_for(lambda j: sum(1 for e in j.of(kind) if e[1] == name) >= count)


class Probe(Actor):
    """Answers messages; ``crash`` crashes it, ``reject`` refuses, ``exit`` stops it normally,
    ``("wait", event)`` blocks until the event, ``("sleep", s)`` sleeps on the (mock) clock."""

    def __init__(
        self, name: str, journal: Journal, *, fail_start: bool = False, stop_delay: float = 0
    ) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start
        self.stop_delay = stop_delay
        self.ctx: ActorContext | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        if self.fail_start:
            self.journal.add("start-failed", self.name, ctx.ref.generation)
            raise OSError(f"{self.name} cannot start")
        self.journal.add("start", self.name, ctx.ref.generation, trio.current_time())

    async def receive(self, message: Any) -> Any:
        self.journal.add("receive", self.name, message)
        match message:
            case "crash":
                raise RuntimeError(f"{self.name} crashed on purpose")
            case "reject":
                raise Rejected(f"{self.name} refuses")
            case "exit":
                assert self.ctx is not None
                self.ctx.stop()
                return "bye"
            case ("wait", trio.Event() as event):
                await event.wait()
                return "waited"
            case ("sleep", float() | int() as seconds):
                await trio.sleep(seconds)
                return "slept"
            case _:
                return message

    async def on_stop(self, reason: BaseException | None) -> None:
        if self.stop_delay:
            await trio.sleep(self.stop_delay)
        kind = None if reason is None else type(reason).__name__
        self.journal.add("stop", self.name, kind, trio.current_time())


def probe(name: str, journal: Journal, **kwargs: Any) -> Callable[[], Probe]:
    return lambda: Probe(name, journal, **kwargs)
