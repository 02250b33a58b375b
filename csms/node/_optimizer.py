"""The REST API's V2G optimizer over the node's ``v2g_optimizer`` actor."""

from __future__ import annotations

import attrs

from csms.actors import Node
from csms.actors.optimizer import Optimize, OptimizerUnavailable, ask_optimizer
from csms.api import Unavailable
from csms.runtime import ActorError
from csms.services.v2g_optimizer_run import OptimizerRun


@attrs.frozen
class NodeOptimizer:
    """The REST API's ``OptimizerControl`` over the node's optimizer (``csms/actors/optimizer``)."""

    node: Node

    async def optimize(
        self, *, dry_run: bool, station_id: str | None, requested_by: str
    ) -> OptimizerRun:
        request = Optimize(dry_run=dry_run, station_id=station_id, requested_by=requested_by)
        # starts and stops wait for their stations' answers, a few at a time
        timeout = 4 * (self.node.settings.ocpp.response_timeout + 5)
        try:
            return await ask_optimizer(self.node.root, request, timeout=timeout)
        except (KeyError, ActorError, TimeoutError, OptimizerUnavailable):
            raise Unavailable("the node's V2G optimizer is not available") from None
