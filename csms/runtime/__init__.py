"""The actor kernel: addresses, bounded mailboxes, tell/ask, supervisors and their restart policies.

It knows nothing about OCPP. See ``_exceptions`` for the exception hierarchy.
"""

from ._actor import Actor, ActorContext, Reply
from ._bridges import AsyncioThread, WorkerThreads
from ._child import ChildSpec
from ._dynamic import DynamicSupervisor, Registry
from ._exceptions import (
    ActorCrashed,
    ActorError,
    ActorStopped,
    AskTimeout,
    MailboxFull,
    NameTaken,
    Rejected,
    RestartIntensityExceeded,
    StartupFailed,
)
from ._metrics import ChildStats, collect_stats
from ._policy import Backoff, RestartIntensity, RestartType, Strategy
from ._ref import ActorRef
from ._supervisor import Supervisor

__all__ = [
    "Actor",
    "ActorContext",
    "ActorCrashed",
    "ActorError",
    "ActorRef",
    "ActorStopped",
    "AskTimeout",
    "AsyncioThread",
    "Backoff",
    "ChildSpec",
    "ChildStats",
    "DynamicSupervisor",
    "MailboxFull",
    "NameTaken",
    "Registry",
    "Rejected",
    "Reply",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "RestartType",
    "StartupFailed",
    "Strategy",
    "Supervisor",
    "WorkerThreads",
    "collect_stats",
]
