"""Child specifications and the task that runs one incarnation of a child."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import trio

from ._actor import Actor, ActorCell, unwrap
from ._policy import Backoff, RestartType
from ._ref import ActorRef

log = logging.getLogger("csms.runtime")

if TYPE_CHECKING:
    from ._dynamic import DynamicSupervisor
    from ._supervisor import Supervisor


class Runnable(Protocol):
    """What a supervisor runs: an actor cell or a nested supervisor."""

    async def run(self, *, task_status: trio.TaskStatus[None] = ...) -> None: ...

    def request_stop(self, *, final: bool) -> None: ...

    def close(self) -> None: ...


@attrs.frozen
class ChildSpec:
    """How to start a child and what to do when it ends; see ``actor`` and ``supervisor``."""

    name: str
    kind: str
    restart: RestartType
    shutdown_timeout: float
    factory: Callable[[], Actor] | None = None
    mailbox_size: int = 1000
    supervisor_: Supervisor | DynamicSupervisor | None = None

    @classmethod
    def actor(
        cls,
        name: str,
        factory: Callable[[], Actor],
        *,
        kind: str = "actor",
        restart: RestartType = RestartType.PERMANENT,
        mailbox_size: int = 1000,
        shutdown_timeout: float = 5.0,
    ) -> ChildSpec:
        if mailbox_size < 1:
            raise ValueError(f"mailbox_size must be at least 1, got {mailbox_size}")
        return cls(
            name, kind, restart, shutdown_timeout, factory=factory, mailbox_size=mailbox_size
        )

    @classmethod
    def supervisor(
        cls,
        name: str,
        supervisor: Supervisor | DynamicSupervisor,
        *,
        restart: RestartType = RestartType.PERMANENT,
        shutdown_timeout: float = math.inf,
    ) -> ChildSpec:
        return cls(name, "supervisor", restart, shutdown_timeout, supervisor_=supervisor)

    def build(self) -> tuple[Runnable, ActorRef | None]:
        if self.factory is not None:
            cell = ActorCell(
                self.kind,
                self.name,
                self.factory,
                mailbox_size=self.mailbox_size,
                shutdown_timeout=self.shutdown_timeout,
            )
            return cell, cell.ref
        assert self.supervisor_ is not None
        return self.supervisor_, None


class Child:
    """A supervisor's record of one child across its incarnations."""

    __slots__ = (
        "_exited",
        "attempts",
        "crashes",
        "incarnation",
        "ref",
        "restarts",
        "runnable",
        "running",
        "scope",
        "spec",
        "started_at",
        "stopping",
    )

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.runnable, self.ref = spec.build()
        self.scope: trio.CancelScope | None = None
        self._exited: trio.Event | None = None  # made on demand: most children never stop early
        self.running = False
        self.stopping = False
        self.incarnation = 0
        self.started_at = 0.0
        self.attempts = 0  # consecutive restarts, for the backoff
        self.restarts = 0
        self.crashes = 0

    def note_crash(self, supervisor: str, crash: BaseException) -> None:
        self.crashes += 1
        log.error(
            "child crashed",
            extra={"supervisor": supervisor, "child": self.spec.name, "error": repr(crash)},
            exc_info=crash,
        )

    def next_backoff(self, backoff: Backoff, rng: random.Random, now: float) -> float:
        """The delay before restarting; a run longer than ``reset_after`` starts the count over."""
        if now - self.started_at >= backoff.reset_after:
            self.attempts = 0
        self.attempts += 1
        return backoff.delay(self.attempts, rng)

    async def wait_exited(self) -> None:
        """Until the current incarnation has ended."""
        if self.running:
            if self._exited is None:
                self._exited = trio.Event()
            await self._exited.wait()

    def mark_exited(self) -> None:
        self.running = False
        self.scope = None
        if self._exited is not None:
            self._exited.set()
            self._exited = None

    async def stop(self, *, final: bool) -> None:
        """Graceful stop, then cancellation once the child's shutdown timeout has passed."""
        self.stopping = True
        if self.running:
            self.runnable.request_stop(final=final)
            with trio.move_on_after(self.spec.shutdown_timeout):
                await self.wait_exited()
            if self.running and self.scope is not None:
                self.scope.cancel()
                await self.wait_exited()
        if final:
            self.runnable.close()


class StartStatus(Protocol):
    """The part of ``trio.TaskStatus`` a child uses."""

    def started(self, value: None = None) -> None: ...


class _StartedFlag:
    """Forwards ``task_status.started()`` and remembers that it happened."""

    __slots__ = ("_inner", "done")

    def __init__(self, inner: StartStatus | trio.TaskStatus[Any]) -> None:
        self._inner = inner
        self.done = False

    def started(self, value: None = None) -> None:
        self.done = True
        self._inner.started(value)


def mark_starting(child: Child) -> int:
    """Book-keeping before an incarnation starts; returns its number."""
    child.incarnation += 1
    child.running = True
    child.stopping = False
    child.started_at = trio.current_time()
    return child.incarnation


async def run_child(
    child: Child, *, task_status: StartStatus | trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
) -> BaseException | None:
    """Run one incarnation; return None when it ended normally or was stopped, else the crash.

    A failure before ``started()`` propagates instead, to whoever is waiting for the start.
    """
    flag = _StartedFlag(task_status)
    try:
        with trio.CancelScope() as scope:
            child.scope = scope
            status: Any = flag
            await child.runnable.run(task_status=status)
    except Exception as exc:
        if not flag.done:
            raise
        return unwrap(exc)
    finally:
        child.mark_exited()
    return None
