"""The asyncio side of the mirror: one nats-py connection and its JetStream context, used only
on the mirror's own ``AsyncioThread``. Every method here runs on that thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import attrs
import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StreamConfig
from nats.js.errors import NotFoundError

from csms.config import NatsSettings
from csms.domain.events import Event
from csms.services.nats_subjects import event_subject, events_wildcard, message_id

__all__ = ["MirrorLink", "encode"]

log = logging.getLogger("csms.nats")


def encode(prefix: str, event: Event) -> tuple[str, bytes, dict[str, str]]:
    """The subject, body and headers an event is published with."""
    # compact UTF-8, a fifth of json.dumps's time; never raises (a value JSON lacks becomes its
    # str), so one odd event cannot hold its batch back forever
    body = orjson.dumps(event.to_json(), default=str, option=orjson.OPT_NON_STR_KEYS)
    station = getattr(event, "station_id", None)
    key = (prefix, event.subject, station if isinstance(station, str) else None)
    subject = _SUBJECTS.get(key)
    if subject is None:  # escaping the station id per event was a tenth of the mirror's time
        if len(_SUBJECTS) >= _SUBJECTS_MAX:
            _SUBJECTS.clear()
        subject = _SUBJECTS[key] = event_subject(*key)
    return subject, body, {"Nats-Msg-Id": message_id(body)}


#: Subjects already made, by (prefix, catalog subject, station); bounded, cleared when full.
_SUBJECTS: dict[tuple[str, str, str | None], str] = {}
_SUBJECTS_MAX = 50_000


@attrs.define
class _Acks:
    """The acknowledgements of one batch, counted as they come."""

    expected: int
    done: asyncio.Future[None]
    count: int = 0
    duplicates: int = 0
    error: bytes | None = None


class MirrorLink:
    """A connection to NATS that publishes batches of events to the event stream."""

    def __init__(
        self,
        url: str,
        settings: NatsSettings,
        *,
        name: str,
        on_state: Callable[[str], None] = lambda state: None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.name = name
        #: Told "connected", "disconnected", "reconnected", "closed" (from the asyncio thread).
        self.on_state = on_state
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        #: Acknowledgements that said the message was a duplicate (a resend JetStream dropped).
        self.duplicates = 0
        #: The reply subjects' common part (``<inbox>.<batch>``), one subscription for all.
        self._inbox: str | None = None
        self._batches = 0
        self._pending: dict[str, _Acks] = {}

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self) -> None:
        """Connect and make sure the stream exists; raises when the server is not there (the
        caller retries with its own backoff). Once connected, nats-py reconnects by itself."""
        if self._nc is not None and not self._nc.is_closed:
            return

        async def disconnected() -> None:
            self.on_state("disconnected")

        async def reconnected() -> None:
            self.on_state("reconnected")

        async def error(exc: Exception) -> None:
            log.debug("nats error", extra={"error": repr(exc)})

        nc = await nats.connect(
            self.url,
            name=self.name,
            connect_timeout=2,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=min(1.0, self.settings.reconnect_max_s),
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        try:
            js = nc.jetstream(timeout=self.settings.ack_timeout_s)
            await self._ensure_stream(js)
            inbox = nc.new_inbox()
            await nc.subscribe(f"{inbox}.*", cb=self._on_ack)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js, self._inbox = nc, js, inbox
        self.on_state("connected")

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        s = self.settings
        try:
            await js.stream_info(s.stream)
            return
        except NotFoundError:
            pass
        await js.add_stream(
            StreamConfig(
                name=s.stream,
                subjects=[events_wildcard(s.prefix)],
                retention=RetentionPolicy(s.retention),
                max_age=s.max_age_s,
                max_bytes=s.max_bytes,
                num_replicas=s.replicas,
                duplicate_window=s.duplicate_window_s,
            )
        )
        log.info("nats stream created", extra={"stream": s.stream, "subjects": s.prefix})

    async def publish(self, events: Sequence[Event]) -> int:
        """Publish ``events`` and wait for every acknowledgement; returns how many JetStream
        stored (the others were duplicates of earlier sends). Raises on a timeout or an error:
        the caller sends the whole batch again, and the ``Nats-Msg-Id`` of each event makes
        JetStream store the ones it already has only once.

        Every event of a batch is published with the batch's own reply subject, and the acks
        are counted by one subscription: no future, no inbox, no decoded ``PubAck`` per event
        (nats-py's ``publish_async`` made each of those, a third of the mirror's cost)."""
        nc = self._nc
        if nc is None or self._inbox is None:
            raise ConnectionError("not connected to NATS")
        if not events:
            return 0
        self._batches += 1
        reply = f"{self._inbox}.{self._batches}"
        acks = _Acks(len(events), asyncio.get_running_loop().create_future())
        self._pending[reply] = acks
        prefix = self.settings.prefix
        publish = nc.publish
        try:
            for event in events:
                subject, body, headers = encode(prefix, event)
                await publish(subject, body, reply=reply, headers=headers)
            try:
                await asyncio.wait_for(acks.done, timeout=self.settings.ack_timeout_s)
            except TimeoutError:
                missing = acks.expected - acks.count
                raise TimeoutError(
                    f"{missing} of {acks.expected} events not acknowledged"
                ) from None
        finally:
            del self._pending[reply]  # a late ack of this batch is ignored
        if acks.error is not None:
            raise RuntimeError(f"JetStream refused an event: {acks.error!r}")
        self.duplicates += acks.duplicates
        return acks.expected - acks.duplicates

    async def _on_ack(self, msg: Msg) -> None:
        acks = self._pending.get(msg.subject)
        if acks is None:
            return
        data = msg.data
        # a PubAck is {"stream":..,"seq":..[,"duplicate": true]}, an error {"error":{..}}:
        # looked for as bytes, not decoded
        if not data or b'"error"' in data:  # empty: a status (503, no stream there)
            acks.error = data[:200]
        elif b'"duplicate"' in data:  # present only when true (written `"duplicate": true`)
            acks.duplicates += 1
        acks.count += 1
        if acks.count >= acks.expected and not acks.done.done():
            acks.done.set_result(None)

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(nc.close(), timeout=2)
            self.on_state("closed")
