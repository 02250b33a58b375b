"""Static supervisors: a fixed list of children and a restart strategy."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence

import trio

from ._actor import unwrap
from ._child import Child, ChildSpec, mark_starting, run_child
from ._exceptions import RestartIntensityExceeded, StartupFailed
from ._policy import Backoff, RestartIntensity, RestartWindow, Strategy
from ._ref import ActorRef

log = logging.getLogger("csms.runtime")

_Event = tuple[Child, int, "BaseException | None"]


class Supervisor:
    """Starts its children in order, restarts them by ``strategy``, stops them in reverse order.

    ``run`` returns after a requested stop and raises ``StartupFailed`` or
    ``RestartIntensityExceeded`` otherwise; both are crashes to a parent supervisor (escalation).
    """

    def __init__(
        self,
        strategy: Strategy,
        children: Sequence[ChildSpec],
        *,
        intensity: RestartIntensity = RestartIntensity(),
        backoff: Backoff = Backoff(),
        name: str = "supervisor",
        rng: random.Random | None = None,
    ) -> None:
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"supervisor {name!r}: child names must be unique, got {names}")
        self.name = name
        self.strategy = strategy
        self.intensity = intensity
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._children = [Child(spec) for spec in children]
        self._by_name = {child.spec.name: child for child in self._children}
        self._events: trio.MemorySendChannel[_Event | None] | None = None
        self._nursery: trio.Nursery | None = None
        self._backoff_scope: trio.CancelScope | None = None
        self._stop_requested = False
        self._final = True
        self._done = trio.Event()
        self._done.set()
        self.restarts = 0
        self.crashes = 0

    # -- public -------------------------------------------------------------------------

    def ref(self, name: str) -> ActorRef:
        ref = self._by_name[name].ref
        if ref is None:
            raise KeyError(f"{name!r} is a supervisor, not an actor")
        return ref

    def children(self) -> list[Child]:
        return list(self._children)

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    async def stop(self) -> None:
        """Stop every child in reverse order and wait until ``run`` has returned."""
        self.request_stop(final=True)
        await self._done.wait()

    # -- Runnable -----------------------------------------------------------------------

    def request_stop(self, *, final: bool) -> None:
        # Not final: a parent is restarting this supervisor, so the children's mailboxes stay open.
        self._final = final
        self._stop_requested = True
        if self._backoff_scope is not None:
            self._backoff_scope.cancel()
        if self._events is not None:
            self._events.send_nowait(None)

    def close(self) -> None:
        for child in self._children:
            child.runnable.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._stop_requested = False
        self._done = trio.Event()
        send, receive = trio.open_memory_channel[_Event | None](math.inf)
        self._events = send
        failure: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                failure = await self._start_all()
                if failure is None:
                    task_status.started()
                    failure = await self._control(receive, RestartWindow(self.intensity))
        finally:
            self._events = None
            self._nursery = None
            self._done.set()
        if failure is not None:
            raise failure

    # -- internals ----------------------------------------------------------------------

    async def _run_and_report(
        self, child: Child, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        incarnation = mark_starting(child)
        crash = await run_child(child, task_status=task_status)
        if self._events is not None:
            self._events.send_nowait((child, incarnation, crash))

    async def _start(self, child: Child) -> None:
        assert self._nursery is not None
        await self._nursery.start(self._run_and_report, child)

    async def _start_all(self) -> Exception | None:
        for index, child in enumerate(self._children):
            try:
                await self._start(child)
            except Exception as exc:
                cause = unwrap(exc)
                log.error(
                    "child failed to start",
                    extra={"supervisor": self.name, "child": child.spec.name, "error": repr(cause)},
                )
                await self._stop_reverse(self._children[:index], final=False)
                failed = StartupFailed(f"{self.name}/{child.spec.name} failed to start: {cause!r}")
                failed.__cause__ = cause
                return failed
        return None

    async def _stop_reverse(self, children: Sequence[Child], *, final: bool) -> None:
        for child in reversed(children):
            await child.stop(final=final)

    async def _control(
        self, events: trio.MemoryReceiveChannel[_Event | None], window: RestartWindow
    ) -> Exception | None:
        async for event in events:
            if event is None or self._stop_requested:
                await self._stop_reverse(self._children, final=self._final)
                return None
            child, incarnation, crash = event
            if incarnation != child.incarnation or child.stopping:
                continue  # an exit we caused, or one from an incarnation already replaced
            failure = await self._on_exit(child, crash, window)
            if failure is not None:
                return failure
        return None

    async def _on_exit(
        self, child: Child, crash: BaseException | None, window: RestartWindow
    ) -> Exception | None:
        crashed = crash is not None
        if crash is not None:
            child.note_crash(self.name, crash)
            self.crashes += 1
        if not child.spec.restart.restarts_after(crashed=crashed):
            child.runnable.close()
            return None
        index = self._children.index(child)
        if self.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            group = list(self._children)
        else:
            group = self._children[index:]
        await self._stop_reverse([c for c in group if c is not child], final=False)
        return await self._restart(group, child, window)

    async def _restart(
        self, group: list[Child], trigger: Child, window: RestartWindow
    ) -> Exception | None:
        while not self._stop_requested:
            now = trio.current_time()
            if not window.record(now):
                await self._stop_reverse(self._children, final=False)
                limit = self.intensity
                log.error(
                    "restart intensity exceeded",
                    extra={"supervisor": self.name, "child": trigger.spec.name},
                )
                return RestartIntensityExceeded(
                    f"{self.name}: more than {limit.max_restarts} restarts in {limit.within} s "
                    f"(last: {trigger.spec.name})"
                )
            delay = trigger.next_backoff(self.backoff, self._rng, now)
            with trio.CancelScope() as self._backoff_scope:
                await trio.sleep(delay)
            self._backoff_scope = None
            if self._stop_requested:
                break
            self.restarts += 1
            started: list[Child] = []
            try:
                for member in group:
                    trigger = member
                    member.restarts += 1
                    await self._start(member)
                    started.append(member)
            except Exception as exc:
                trigger.note_crash(self.name, unwrap(exc))
                self.crashes += 1
                await self._stop_reverse(started, final=False)
                continue
            return None
        return None
