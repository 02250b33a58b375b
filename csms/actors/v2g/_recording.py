"""A discharge session's records (``policy.Record``): the row and trail stored, then the
event; the frequent ``updated`` ones through the sessions' ``RecordWriter``, without waiting for
them (see ``_writer.py``), the others in a transaction of their own once those are settled."""

from __future__ import annotations

import logging
import uuid

from csms.runtime import ActorStopped, MailboxFull
from csms.services import v2g_session as policy
from csms.storage.v2g_sessions import SessionRow

from ._deps import SessionDeps
from ._record import event_of, store_record, updated_event
from ._start import row_of
from ._tasks import Crashed, SessionTasks

__all__ = ["SessionRecords"]

log = logging.getLogger("csms.v2g")


class SessionRecords(SessionTasks):
    """Mixin of ``DischargeSession`` (over ``SessionTasks``: one line of slotted bases):
    ``_record`` and what it needs."""

    __slots__ = ("_dirty",)

    #: The state changed since it was last stored (kept by ``on_stop`` then).
    _dirty: bool
    deps: SessionDeps
    session_id: uuid.UUID
    state: policy.SessionState | None

    async def _record(self, record: policy.Record, *, answer: bool = False) -> SessionRow | None:
        """The row and trail stored, then the event. An ``updated`` record (every few seconds
        a session) does not read its row back: its event is the state's."""
        state, writer = record.state, self.deps.writer
        if record.kind == "updated" and not answer and writer is not None:
            # handed over: the writer calls back once it is committed (``_recorded``)
            writer.submit(self.session_id, row_of(state), state, self._recorded)
            self._dirty = state is not self.state
            return None
        await self._settled()
        row = await self.deps.database.run(
            store_record, self.session_id, row_of(state), record.kind, state
        )
        self._dirty = state is not self.state
        self.deps.events.publish(event_of(record.kind, row, state))
        return row

    def _recorded(self, state: policy.SessionState, error: BaseException | None) -> None:
        """The writer's call once an ``updated`` record is settled: its event, or a crash (the
        supervisor resumes the session from its row) when it could not be stored."""
        if error is None:
            events = self.deps.events
            events.publish(updated_event(state, events.node_id))
            return
        self._dirty = True  # what the record held is kept by on_stop, if it can be
        if self._ctx is None or isinstance(error, ActorStopped) or not isinstance(error, Exception):
            return  # the node stops: so does this session
        try:
            self._ctx.ref.tell_nowait(Crashed(error))
        except (ActorStopped, MailboxFull):
            log.warning(
                "discharge session record not stored",
                extra={"session": str(self.session_id), "error": repr(error)},
            )

    async def _settled(self) -> None:
        """Wait until the records handed to the writer are settled: nothing else writes the
        row before them (an older record would overwrite it), nor reads it for an answer."""
        if self.deps.writer is not None:
            await self.deps.writer.settled(self.session_id)
