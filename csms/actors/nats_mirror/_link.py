"""The asyncio side of the mirror: one nats-py connection and its JetStream context, used only
on the mirror's own ``AsyncioThread``. Every method here runs on that thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import nats
import orjson
from nats.aio.client import Client
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
    subject = event_subject(prefix, event.subject, station if isinstance(station, str) else None)
    return subject, body, {"Nats-Msg-Id": message_id(body)}


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
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
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
        JetStream store the ones it already has only once."""
        js = self._js
        if js is None:
            raise ConnectionError("not connected to NATS")
        prefix = self.settings.prefix
        futures: list[asyncio.Future[Any]] = []
        try:
            for event in events:
                subject, body, headers = encode(prefix, event)
                futures.append(await js.publish_async(subject, body, headers=headers))
            if futures:
                _, pending = await asyncio.wait(futures, timeout=self.settings.ack_timeout_s)
                if pending:
                    raise TimeoutError(f"{len(pending)} of {len(futures)} events not acknowledged")
            acks = [future.result() for future in futures]  # an error ack raises here
        finally:
            for future in futures:
                future.cancel()  # a no-op for the acknowledged; frees the others' slots
        duplicates = sum(1 for ack in acks if ack.duplicate)
        self.duplicates += duplicates
        return len(acks) - duplicates

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(nc.close(), timeout=2)
            self.on_state("closed")
