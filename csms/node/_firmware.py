"""The REST API's firmware jobs over the node's firmware supervisor."""

from __future__ import annotations

import uuid

import attrs

from csms.actors import Node, firmware
from csms.api import Conflict, FirmwareUpdate, Unavailable
from csms.runtime import ActorError
from csms.storage.firmware import FirmwareJobRow


@attrs.frozen
class NodeFirmware:
    """The REST API's ``FirmwareControl`` over the node's firmware jobs (``csms/actors/firmware``):
    an update that could not be sent or answered becomes a 409 with its code."""

    node: Node

    @property
    def _timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout + 10

    async def start_update(self, update: FirmwareUpdate) -> FirmwareJobRow:
        start = firmware.StartUpdate(**attrs.asdict(update, recurse=False))
        try:
            return await firmware.start_update(self.node.root, start, timeout=self._timeout)
        except firmware.UpdateRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None

    async def cancel_job(self, job_id: uuid.UUID, *, requested_by: str) -> FirmwareJobRow | None:
        try:
            return await firmware.cancel_job(
                self.node.root, job_id, requested_by=requested_by, timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None
