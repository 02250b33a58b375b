"""The REST API's discharge sessions over the node's V2G supervisor."""

from __future__ import annotations

import uuid
from decimal import Decimal

import attrs

from csms.actors import Node, v2g
from csms.api import Conflict, DischargeStart, Unavailable
from csms.runtime import ActorError
from csms.storage.v2g_sessions import SessionRow


@attrs.frozen
class NodeV2G:
    """The REST API's ``V2GControl`` over the node's discharge sessions (``csms/actors/v2g``):
    a refusal's stable code becomes a 409."""

    node: Node

    @property
    def _timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout + 5

    async def start_discharge(self, start: DischargeStart) -> SessionRow:
        request = v2g.StartDischarge(
            start.station_id,
            start.evse_id,
            start.power_w,
            start.duration_s,
            start.min_soc_percent,
            start.requested_by,
        )
        try:
            return await v2g.start_discharge(self.node.root, request, timeout=self._timeout)
        except v2g.DischargeRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's discharge sessions are not available") from None

    async def stop_discharge(
        self, session_id: uuid.UUID, *, requested_by: str
    ) -> SessionRow | None:
        try:
            return await v2g.stop_discharge(
                self.node.root, session_id, requested_by=requested_by, timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's discharge sessions are not available") from None

    async def change_discharge_power(
        self, session_id: uuid.UUID, power_w: Decimal
    ) -> SessionRow | None:
        """The session's ``ChangePower`` (csms/actors/v2g), as an operator asks it."""
        try:
            row: SessionRow | None = await self.node.root.ref(v2g.V2G_SESSIONS).ask(
                v2g.ChangePower(session_id, power_w), timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's discharge sessions are not available") from None
        return row
