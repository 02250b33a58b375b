"""What a station actor needs from the rest of the node, gathered in one value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.actors.id_tokens import IdTokens
from csms.actors.persistence import store, submit
from csms.domain.records import Record
from csms.runtime import ActorRef

from ._routes import StationRoutes


class CertificateVerifier(Protocol):
    """Decides the ISO 15118 certificate status in Authorize (Plug & Charge).

    ``hash_data`` is the list of OCSPRequestData of the request, as wire JSON; ``certificate``
    the contract certificate chain (PEM) when the station sent it instead (C07.FR.06). The
    answer is the contract's status (Accepted, or the reason it is not): the handler combines
    it with the id token's (C07.FR.13-17). The node's is ``csms/actors/certificates``.
    """

    async def authorize_certificate(
        self,
        station_id: str,
        id_token: Any,
        hash_data: list[dict[str, Any]],
        certificate: str | None = None,
    ) -> str: ...


class NoPlugAndCharge:
    """The default until Plug & Charge is configured: no contract certificate can be checked,
    so the answer is ``NoCertificateAvailable`` and the id token decides on its own."""

    async def authorize_certificate(
        self,
        station_id: str,
        id_token: Any,
        hash_data: list[dict[str, Any]],
        certificate: str | None = None,
    ) -> str:
        return "NoCertificateAvailable"


@attrs.frozen
class StationServices:
    node_id: str
    persistence: ActorRef
    #: Repository calls (reads, and the writes that skip the writer: a new password).
    database: Database
    events: EventBus
    heartbeat_interval: int = 300
    response_timeout: float = 30.0
    #: How long a handler waits for the database before the station gets InternalError
    #: (it then retries: nothing is acknowledged that was not stored).
    store_timeout: float = 10.0
    #: A command answered within this many seconds is written to the audit once, with its
    #: outcome; one still outstanding then is written as sent first (and updated later), so the
    #: audit shows what is in flight without two writes for every quick command.
    audit_sent_after: float = 0.5
    certificates: CertificateVerifier = attrs.field(factory=NoPlugAndCharge)
    #: The node's id-token cache (the composition root passes the one the REST API shares);
    #: by default one of its own, which reads the database every time (nothing listens).
    id_tokens: IdTokens = attrs.field(
        default=attrs.Factory(lambda self: IdTokens(self.database), takes_self=True)
    )
    #: Station messages other actors own (V2G, firmware jobs, Plug & Charge), fixed when the
    #: node is built; see ``_routes``.
    routes: StationRoutes = attrs.field(factory=StationRoutes)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    async def store(self, *records: Record) -> None:
        """Return once committed (for what must be durable before it is acknowledged)."""
        await store(self.persistence, *records, timeout=self.store_timeout)

    async def submit(self, *records: Record) -> None:
        await submit(self.persistence, *records)

    def now(self) -> dt.datetime:
        return self.clock()
