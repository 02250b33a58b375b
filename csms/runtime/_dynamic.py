"""The dynamic supervisor: children started on demand, by the thousand, each restarted alone."""

from __future__ import annotations

import logging
import random

import trio

from ._actor import unwrap
from ._child import Child, ChildSpec, mark_starting, run_child
from ._exceptions import ActorStopped, NameTaken, RestartIntensityExceeded, StartupFailed
from ._policy import Backoff, RestartIntensity, RestartWindow
from ._ref import ActorRef

log = logging.getLogger("csms.runtime")


class Registry:
    """Names to live actors (station id to station actor, say)."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[str, ActorRef] = {}

    def register(self, name: str, ref: ActorRef) -> None:
        current = self._refs.get(name)
        if current is not None and current is not ref and current.alive:
            raise NameTaken(f"{name!r} is already registered to {current!r}")
        self._refs[name] = ref

    def lookup(self, name: str) -> ActorRef | None:
        ref = self._refs.get(name)
        return ref if ref is not None and ref.alive else None

    def unregister(self, name: str, ref: ActorRef | None = None) -> None:
        """Forget ``name``; with ``ref``, only while the name still points at that actor."""
        if ref is None or self._refs.get(name) is ref:
            self._refs.pop(name, None)

    def names(self) -> list[str]:
        return [name for name, ref in self._refs.items() if ref.alive]

    def __len__(self) -> int:
        return len(self._refs)


class _Startup:
    """Stands in for ``task_status``: the starter waits on it without ``nursery.start``'s extra
    nursery and task re-parenting, which would triple the cost of starting a station.

    The child's task keeps this object for its whole life, so the event is let go once set
    (the starter holds its own reference while it waits)."""

    __slots__ = ("done", "error", "event")

    def __init__(self) -> None:
        self.event: trio.Event | None = trio.Event()
        self.done = False
        self.error: BaseException | None = None

    @property
    def settled(self) -> bool:
        return self.event is None

    def started(self, value: None = None) -> None:
        self.done = True
        self._settle()

    def failed(self, error: BaseException) -> None:
        self.error = error
        self._settle()

    def _settle(self) -> None:
        if self.event is not None:
            self.event.set()
            self.event = None


class DynamicSupervisor:
    """A one-for-one supervisor whose children come and go while it runs.

    Every child has its own restart loop, so one child's backoff never delays another; the restart
    intensity is shared, and exceeding it stops every child and makes ``run`` raise
    ``RestartIntensityExceeded`` (escalation). Children stop concurrently when the supervisor stops.
    """

    def __init__(
        self,
        *,
        name: str = "dynamic",
        intensity: RestartIntensity = RestartIntensity(max_restarts=100, within=10.0),
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.intensity = intensity
        self.backoff = backoff
        self.registry = Registry()
        self._rng = rng or random.Random()
        self._children: dict[Child, str | None] = {}
        self._by_ref: dict[ActorRef, Child] = {}
        self._window = RestartWindow(intensity)
        self._nursery: trio.Nursery | None = None
        self._stop = trio.Event()
        self._done = trio.Event()
        self._done.set()
        self._failure: Exception | None = None
        self.restarts = 0
        self.crashes = 0

    def __len__(self) -> int:
        return len(self._children)

    def children(self) -> list[Child]:
        return list(self._children)

    @property
    def running(self) -> bool:
        return self._nursery is not None and not self._stop.is_set()

    async def start_child(
        self, spec: ChildSpec, *, name: str | None = None, replace: bool = False
    ) -> ActorRef:
        """Start an actor child and return its ref once its ``on_start`` ran.

        With ``name`` it is registered before it starts (messages sent meanwhile wait in its
        mailbox): ``replace`` stops the actor holding that name first, else ``NameTaken``.
        Raises ``StartupFailed`` (and the name is free again).
        """
        nursery = self._check_running()
        if name is not None:
            await self._free(name, replace=replace)
        child, ref = self._adopt(spec, name)
        if name is not None:
            self.registry.register(name, ref)
        startup = _Startup()
        started = startup.event
        assert started is not None
        nursery.start_soon(self._supervise, child, startup, name=spec.name)
        await started.wait()
        if startup.error is not None:
            cause = unwrap(startup.error)
            failed = StartupFailed(f"{self.name}/{spec.name} failed to start: {cause!r}")
            raise failed from cause
        return ref

    def start_child_nowait(self, spec: ChildSpec, *, name: str | None = None) -> ActorRef:
        """Start an actor child without waiting for its ``on_start``; a startup failure then counts
        as a crash. With ``name`` it is registered at once (``NameTaken`` if the name is live)."""
        nursery = self._check_running()
        if name is not None and self.registry.lookup(name) is not None:
            raise NameTaken(f"{name!r} is already registered")
        child, ref = self._adopt(spec, name)
        if name is not None:
            self.registry.register(name, ref)
        nursery.start_soon(self._supervise, child, None, name=spec.name)
        return ref

    def _check_running(self) -> trio.Nursery:
        if self._nursery is None or self._stop.is_set():
            raise ActorStopped(f"{self.name} is not running")
        return self._nursery

    def _adopt(self, spec: ChildSpec, name: str | None) -> tuple[Child, ActorRef]:
        child = Child(spec)
        if child.ref is None:
            raise TypeError("a dynamic supervisor supervises actors, not supervisors")
        self._children[child] = name
        self._by_ref[child.ref] = child
        return child, child.ref

    async def stop_child(self, ref: ActorRef) -> None:
        """Stop one child for good (graceful, then cancelled after its shutdown timeout)."""
        child = self._by_ref.get(ref)
        if child is not None:
            await child.stop(final=True)

    def request_stop(self, *, final: bool) -> None:
        self._stop.set()

    def close(self) -> None:
        for child in list(self._children):
            child.runnable.close()

    async def stop(self) -> None:
        self._stop.set()
        await self._done.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._stop = trio.Event()
        self._done = trio.Event()
        self._failure = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._stop.wait()
                await self._stop_all()
                nursery.cancel_scope.cancel()  # children waiting out a restart backoff
        finally:
            self._nursery = None
            self._done.set()
        if self._failure is not None:
            raise self._failure

    # -- internals ----------------------------------------------------------------------

    async def _free(self, name: str, *, replace: bool) -> None:
        # Loop: while one holder stops, another start may take the name.
        while (old := self.registry.lookup(name)) is not None:
            if not replace:
                raise NameTaken(f"{name!r} is already registered to {old!r}")
            await self.stop_child(old)

    async def _stop_all(self) -> None:
        children = list(self._children)
        for child in children:
            if child.running:
                child.stopping = True
                child.runnable.request_stop(final=True)
        now = trio.current_time()
        for child in children:
            with trio.move_on_at(now + child.spec.shutdown_timeout):
                await child.wait_exited()
        for child in children:
            if child.running and child.scope is not None:
                child.scope.cancel()
        for child in children:
            await child.wait_exited()

    async def _supervise(self, child: Child, startup: _Startup | None) -> None:
        try:
            while True:
                mark_starting(child)
                try:
                    crash = await run_child(child, task_status=startup or trio.TASK_STATUS_IGNORED)
                except Exception as exc:
                    if startup is not None:
                        startup.failed(exc)  # the first start: start_child raises it
                        return
                    crash = unwrap(exc)
                startup = None
                if child.stopping:
                    return
                if crash is not None:
                    child.note_crash(self.name, crash)
                    self.crashes += 1
                if not child.spec.restart.restarts_after(crashed=crash is not None):
                    return
                now = trio.current_time()
                if not self._window.record(now):
                    self._escalate(child)
                    return
                await trio.sleep(child.next_backoff(self.backoff, self._rng, now))
                if child.stopping:
                    return
                child.restarts += 1
                self.restarts += 1
        finally:
            if startup is not None and not startup.settled:
                startup.failed(ActorStopped(f"{self.name} stopped while {child.spec.name} started"))
            self._forget(child)

    def _escalate(self, child: Child) -> None:
        limit = self.intensity
        log.error(
            "restart intensity exceeded", extra={"supervisor": self.name, "child": child.spec.name}
        )
        if self._failure is None:
            self._failure = RestartIntensityExceeded(
                f"{self.name}: more than {limit.max_restarts} restarts in {limit.within} s "
                f"(last: {child.spec.name})"
            )
        self._stop.set()

    def _forget(self, child: Child) -> None:
        name = self._children.pop(child, None)
        if child.ref is not None:
            self._by_ref.pop(child.ref, None)
            if name is not None:
                self.registry.unregister(name, child.ref)
        child.runnable.close()
