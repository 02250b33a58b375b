"""The node's V2G optimizer as the API asks it (``ControlPlane.optimizer``)."""

from __future__ import annotations

from typing import Protocol

from csms.services.v2g_optimizer_run import OptimizerRun

__all__ = ["OptimizerControl"]


class OptimizerControl(Protocol):
    async def optimize(
        self, *, dry_run: bool, station_id: str | None, requested_by: str
    ) -> OptimizerRun:
        """Plan now for every plugged-in, capable, opted-in EV (of ``station_id``, when given)
        and, unless ``dry_run``, start, change and stop the optimizer's sessions that are due;
        raises ``Unavailable`` when the node runs no optimizer or no prices."""
        ...
