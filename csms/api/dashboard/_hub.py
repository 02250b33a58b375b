"""Live updates: one subscription to the node's events, shared by every open dashboard, turned
into small Server-Sent Events.

A busy node publishes thousands of events a second; a page needs to know only which of its parts
changed. So the hub holds a single subscription (``ControlPlane.subscribe("")``) while any
dashboard is open, gathers what arrives over ``COALESCE`` seconds into one batch (the topics
touched and the stations concerned) and hands each batch to every stream. The cost per event is
one set insertion, whatever the number of dashboards; a batch is encoded once, each dashboard
costs one write of it.

A batch about the overview's topics also carries the overview's figures (``Figures``), computed
once per batch for all the open overviews (only while one is open), so an open overview updates
its figures from the stream instead of fetching its HTML again (SPEC section 10). The figures are
the ones every signed-in role sees on the overview, nothing more.

There is no task of its own to start: the streams take turns reading the subscription. One of
them leads (waits for the first event, gathers the rest, publishes the batch); the others wait
for the batch. A leader that goes away mid-batch leaves what it gathered for the next one.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import attrs
import orjson
import trio

from csms.domain.events import Event

from .._control import ControlPlane, EventFeed

__all__ = ["COALESCE", "FIGURE_TOPICS", "Batch", "EventHub", "Figures", "topic_of"]

log = logging.getLogger("csms.dashboard")

#: Events arriving within this long after the first one go out in the same batch.
COALESCE = 0.2
#: A batch names at most this many stations; beyond, it says "any station" (None).
MAX_STATIONS = 200
#: A stream silent this long sends an SSE comment, so dead connections are noticed.
KEEPALIVE = 15.0
#: Batches kept for streams that fell behind; one further behind is told "everything".
HISTORY = 64
#: The topics whose events can change the overview's figures.
FIGURE_TOPICS = frozenset({"station", "transaction", "v2g", "*"})

#: The overview's figures after the batch of a version, as shown (formatted text by figure
#: name), computed by the overview.
Figures = Callable[[int], Awaitable[Mapping[str, str]]]


def topic_of(subject: str) -> str:
    """``station.status`` -> ``station``; the command events are ``command``."""
    head = subject.split(".", 1)[0]
    return "command" if head == "ocpp" else head


@attrs.frozen
class Batch:
    topics: frozenset[str]
    #: The stations the events were about; None: too many to name (any station).
    stations: frozenset[str] | None

    def to_json(self, figures: Mapping[str, str] | None = None) -> bytes:
        stations = None if self.stations is None else sorted(self.stations)
        body: dict[str, object] = {"topics": sorted(self.topics), "stations": stations}
        if figures is not None:
            body["figures"] = figures
        return orjson.dumps(body)


#: What a stream that fell too far behind is told.
EVERYTHING = Batch(frozenset({"*"}), None)


class _Pending:
    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.stations: set[str] | None = set()

    def add(self, event: Event) -> None:
        self.topics.add(topic_of(event.subject))
        station = getattr(event, "station_id", None)
        if self.stations is not None and isinstance(station, str):
            self.stations.add(station)
            if len(self.stations) > MAX_STATIONS:
                self.stations = None

    def __bool__(self) -> bool:
        return bool(self.topics)

    def take(self) -> Batch:
        batch = Batch(
            frozenset(self.topics), None if self.stations is None else frozenset(self.stations)
        )
        self.topics = set()
        self.stations = set()
        return batch


class EventHub:
    def __init__(self, control: ControlPlane, *, coalesce: float = COALESCE) -> None:
        self._control = control
        self._coalesce = coalesce
        self._feed: EventFeed | None = None
        self._clients = 0
        #: How the overview's figures are computed (set by the overview), and the streams of
        #: open overviews wanting them.
        self.figures: Figures | None = None
        self._watching = 0
        #: The newest figures computed.
        self._figures: Mapping[str, str] | None = None
        self._leading = False
        self._pending = _Pending()
        self._changed = trio.Event()
        #: Batches published, numbered: (version, batch); ``version`` is the last number.
        self._history: collections.deque[tuple[int, Batch]] = collections.deque(maxlen=HISTORY)
        self.version = 0
        #: The SSE messages of the newest version, by the version a stream had seen.
        self._messages: dict[int, bytes] = {}
        self._messages_version = 0
        #: Events the shared subscription lost because the hub fell behind (from the feed).
        self.dropped = 0

    @property
    def clients(self) -> int:
        return self._clients

    @property
    def watching(self) -> int:
        """Open streams wanting the overview's figures."""
        return self._watching

    def join(self, *, figures: bool = False) -> int:
        """A stream starts: the version it has seen."""
        if self._feed is None:
            self._feed = self._control.subscribe("")
        self._clients += 1
        self._watching += figures
        return self.version

    def leave(self, *, figures: bool = False) -> None:
        self._clients -= 1
        self._watching -= figures
        if not self._watching:
            self._figures = None
        if self._clients == 0 and self._feed is not None:
            self._control.unsubscribe(self._feed)
            self._feed = None
            self._pending = _Pending()

    def since(self, seen: int) -> Batch:
        """Everything published after version ``seen``, as one batch."""
        newer = [b for v, b in self._history if v > seen]
        if not self._history or self._history[0][0] > seen + 1:
            return EVERYTHING
        topics: set[str] = set()
        stations: set[str] | None = set()
        for batch in newer:
            topics |= batch.topics
            if stations is not None and batch.stations is not None:
                stations |= batch.stations
            else:
                stations = None
        return Batch(frozenset(topics), None if stations is None else frozenset(stations))

    def message(self, seen: int) -> bytes:
        """The SSE message telling a stream that had seen version ``seen`` what changed since:
        built and encoded once per batch, not once per dashboard (the streams up to date all
        had seen the same version)."""
        if self._messages_version != self.version:
            self._messages = {}
            self._messages_version = self.version
        message = self._messages.get(seen)
        if message is None:
            batch = self.since(seen)
            # the newest figures, to a stream behind too: they are at least as new as any it missed
            figures = self._figures if batch.topics & FIGURE_TOPICS else None
            body = batch.to_json(figures)
            message = b"event: change\ndata: " + body + b"\n\n"
            self._messages[seen] = message
        return message

    async def wait(self, seen: int) -> int:
        """Wait until a batch newer than ``seen`` is published; the newest version."""
        while self.version == seen:
            if self._leading:
                await self._changed.wait()
                continue
            self._leading = True
            try:
                await self._lead()
            finally:
                self._leading = False
                self._changed.set()  # a batch, or a leader gone: someone else may lead now
                self._changed = trio.Event()
        return self.version

    async def _lead(self) -> None:
        feed = self._feed
        assert feed is not None
        receive = feed.receive
        if not self._pending:
            self._pending.add(await receive.receive())
        await trio.sleep(self._coalesce)
        while True:
            try:
                self._pending.add(receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        figures = None
        if self._watching and self.figures is not None and self._pending.topics & FIGURE_TOPICS:
            # before the batch is taken: a leader cancelled here leaves it to the next one
            try:
                figures = await self.figures(self.version + 1)
            except Exception:  # the database unavailable: the batch goes without figures
                log.warning("dashboard: the overview's figures failed", exc_info=True)
        self.dropped = feed.dropped
        self.version += 1
        self._history.append((self.version, self._pending.take()))
        if figures is not None:
            self._figures = figures

    async def _current_figures(self, seen: int) -> bytes:
        assert self.figures is not None
        try:
            figures = await self.figures(seen)
        except Exception:
            log.warning("dashboard: the overview's figures failed", exc_info=True)
            figures = None
        return Batch(frozenset(), frozenset()).to_json(figures)

    async def stream(
        self, still_allowed: AsyncIterator[bool], *, figures: bool = False
    ) -> AsyncIterator[bytes]:
        """The SSE body of one dashboard. ``still_allowed`` is asked at each keep-alive whether
        the session is still signed in; the stream ends when it is not. ``figures``: an open
        overview, whose batches carry the overview's figures."""
        seen = self.join(figures=figures)
        try:
            yield b"retry: 2000\n: connected\n\n"
            if figures and self.figures is not None:
                # what changed between the page's rendering and this stream's start
                yield b"event: change\ndata: " + await self._current_figures(seen) + b"\n\n"
            while True:
                version = seen
                with trio.move_on_after(KEEPALIVE):
                    version = await self.wait(seen)
                if version == seen:
                    if not await anext(still_allowed):
                        return
                    yield b": keep-alive\n\n"
                    continue
                message = self.message(seen)
                seen = version
                yield message
        finally:
            self.leave(figures=figures)
