"""The runtime's exceptions, written out once.

::

    ActorError(Exception)                      base of everything the runtime raises
    ├── Rejected(ActorError, ValueError)       the actor refused a message: a reply, not a crash
    ├── MailboxFull(ActorError)                tell_nowait on a full mailbox
    ├── ActorStopped(ActorError)               the actor is gone (or went away before answering)
    ├── ActorCrashed(ActorError)               it crashed handling the ask (``__cause__``)
    ├── AskTimeout(ActorError, TimeoutError)   no reply within the ask's deadline
    ├── NameTaken(ActorError, KeyError)        a registry name already points at a live actor
    ├── StartupFailed(ActorError)              a child failed before it reported itself started
    └── RestartIntensityExceeded(ActorError)   a supervisor gave up: too many restarts in its window

``Rejected`` is how a validation error travels: the actor raises it from ``receive`` and the asker
gets it back; the actor keeps running. Every other exception from ``receive`` is a crash.
"""

from __future__ import annotations


class ActorError(Exception):
    """Base class of the runtime's exceptions."""


class Rejected(ActorError, ValueError):
    """The actor refused the message (bad input). Raised at the asker; the actor carries on."""


class MailboxFull(ActorError):
    """The mailbox is at capacity and the sender chose not to wait."""


class ActorStopped(ActorError):
    """The actor has stopped, or stopped before it answered."""


class ActorCrashed(ActorError):
    """The actor crashed while it was handling this ask. The crash is the ``__cause__``."""


class AskTimeout(ActorError, TimeoutError):
    """No reply arrived before the ask's deadline (the deadline covers enqueue and reply)."""


class NameTaken(ActorError, KeyError):
    """The name is already registered to a live actor."""

    def __str__(self) -> str:  # KeyError quotes its argument; a sentence reads better.
        return str(self.args[0]) if self.args else "name taken"


class StartupFailed(ActorError):
    """A child raised before it reported itself started. The failure is the ``__cause__``."""


class RestartIntensityExceeded(ActorError):
    """A supervisor saw more restarts than its intensity allows; it gave up and escalates."""
