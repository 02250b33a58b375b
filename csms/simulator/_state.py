"""What a simulated station keeps across connections and restarts of its actor: the charge
point model, the queue of unacknowledged transaction messages, and observable counters."""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any

import attrs
import trio

from csms.protocol import Version

from ._backoff import ReconnectBackoff
from ._ledger import Ledger
from ._model import ChargePoint, Ev, Outgoing
from ._stats import LoadStats

__all__ = ["Behaviour", "StationConfig", "StationState"]


@attrs.frozen
class Behaviour:
    """What a load-test station does by itself once online."""

    kind: str = "heartbeat"  # heartbeat | transactions | v2g
    charge_seconds: float = 30.0
    idle_seconds: float = 10.0


@attrs.frozen
class StationConfig:
    station_id: str
    server: str  # ws://host:port/ocpp; the station id is appended
    #: Further CSMS URLs in priority order, as OCPP's NetworkConnectionProfiles: a connection
    #: attempt that fails moves the station on to the next one (round the list).
    fallback_servers: tuple[str, ...] = ()
    password: str | None = None
    version: Version = Version.V201
    evses: int = 1
    ev: Ev = attrs.field(factory=Ev)
    #: V2XChargingCtrlr.SupportedOperationModes: a profile with another mode is Rejected
    operation_modes: tuple[str, ...] = ("ChargingOnly", "CentralSetpoint")
    meter_interval: float = 60.0
    heartbeat_interval: float | None = None  # None: the interval the CSMS answers at boot
    response_timeout: float = 30.0
    #: Seconds for the TCP connection and the WebSocket opening handshake (then the attempt
    #: counts as failed and the back-off follows).
    connect_timeout: float = 30.0
    backoff: ReconnectBackoff = attrs.field(factory=ReconnectBackoff)
    firmware_step: float = 1.0
    retry_interval: float = 5.0  # before resending a transaction message the CSMS refused
    validate: bool = True
    behaviour: Behaviour | None = None
    seed: int | None = None

    @property
    def url(self) -> str:
        return self.url_at(0)

    @property
    def servers(self) -> tuple[str, ...]:
        return (self.server, *self.fallback_servers)

    def url_at(self, index: int) -> str:
        """The URL of the ``index``-th server of the priority list (round it)."""
        servers = self.servers
        return f"{servers[index % len(servers)].rstrip('/')}/{self.station_id}"


class StationState:
    """Survives the actor: like a real charge point's flash memory (and its event log)."""

    __slots__ = (
        "_changed",
        "accepted",
        "applying",
        "attempts",
        "booted",
        "boots",
        "config",
        "connected",
        "errors",
        "firmware",
        "ledger",
        "message_ids",
        "model",
        "queue",
        "received",
        "rng",
        "sent",
        "server_index",
        "stats",
    )

    def __init__(self, config: StationConfig, stats: LoadStats | None = None) -> None:
        self.config = config
        self.model = ChargePoint.create(
            config.station_id,
            evses=config.evses,
            ev=attrs.evolve(config.ev),
            version=config.version,
            operation_modes=config.operation_modes,
        )
        backoff = config.backoff
        for name, value in (
            ("RetryBackOffWaitMinimum", backoff.wait_minimum),
            ("RetryBackOffRandomRange", backoff.random_range),
            ("RetryBackOffRepeatTimes", backoff.repeat_times),
        ):
            self.model.device.values["OCPPCommCtrlr", name] = f"{value:g}"
        self.queue: collections.deque[Outgoing] = collections.deque()
        self.stats = stats
        self.rng = random.Random(config.seed)
        self.connected = False  # the WebSocket is open
        self.accepted = False  # ... and the CSMS accepted our boot: we are online
        self.booted = False  # a BootNotification was accepted since the last (re)boot
        self.boots = 0
        self.attempts = 0  # connection attempts, successful or not
        self.server_index = 0  # in `config.servers`: where the next attempt goes
        self.message_ids = 0
        #: Acknowledged calls by action; TransactionEvents by "TransactionEvent/<trigger>" too.
        self.sent: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()  # CSMS commands
        self.applying = 0  # commands answered whose effects are not applied yet
        self.firmware: list[str] = []  # FirmwareStatusNotification statuses sent
        self.errors: list[str] = []
        self.ledger: Ledger | None = None  # a soak run's record of what was acknowledged
        self._changed = trio.Event()

    @property
    def online(self) -> bool:
        return self.connected and self.accepted

    def backoff(self) -> ReconnectBackoff:
        device = self.model.device
        return ReconnectBackoff(
            device.number("OCPPCommCtrlr", "RetryBackOffWaitMinimum"),
            device.number("OCPPCommCtrlr", "RetryBackOffRandomRange"),
            int(device.number("OCPPCommCtrlr", "RetryBackOffRepeatTimes")),
        )

    def next_message_id(self) -> str:
        self.message_ids += 1
        return str(self.message_ids)

    def error(self, kind: str, detail: str) -> None:
        if len(self.errors) < 100:
            self.errors.append(f"{kind}: {detail}")
        if self.stats is not None:
            self.stats.error(kind)

    @property
    def settled(self) -> bool:
        """Nothing the station owes the CSMS: every transaction message acknowledged, and the
        messages every answered command causes (a TransactionEvent ChargingRateChanged, say)
        already queued. Tests move a MockClock only when settled, so that nothing waits on the
        CSMS across the jump."""
        return not self.queue and not self.applying

    def acknowledged(self, action: str, payload: dict[str, Any]) -> None:
        """The CSMS answered a CALL of ``action`` (counted in ``sent``)."""
        self.sent[action] += 1
        if action == "TransactionEvent":
            self.sent[f"{action}/{payload.get('triggerReason')}"] += 1
        if self.ledger is not None:
            self.ledger.record(self.config.station_id, action, payload)
        self.changed()

    def changed(self) -> None:
        event, self._changed = self._changed, trio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (checked after every change)."""
        while not predicate():
            await self._changed.wait()
