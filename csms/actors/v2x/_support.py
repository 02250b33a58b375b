"""A station's V2X support, as the V2X owner knows it.

OCPP 2.1: ``V2XChargingCtrlr.Enabled`` and ``SupportedOperationModes``, read with GetVariables
(through the gateway) after every accepted BootNotification, kept here and in
``v2x_station_support`` (a node that restarts reads the table until the station boots again).
OCPP 2.0.1 has no V2X device model: a station is bidirectional when registered so
(``stations.bidirectional``, docs/V2G.md), which the REST API may change at any time, so that
answer is kept only for ``declared_ttl`` seconds. A station registered as bidirectional counts
as such in 2.1 too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import trio

from csms.actors.database import Database
from csms.commands import CommandError, StationGateway
from csms.protocol import Version
from csms.services.v2x_capability import (
    StationV2XSupport,
    station_support_from_variables,
    support_get_variables_request,
)
from csms.storage import v2x_support

__all__ = ["SupportCache"]

log = logging.getLogger("csms.v2x")


class SupportCache:
    """Per station: its ``StationV2XSupport`` and until when it holds.

    A lookup for an answer to the station never waits for a read of its variables in progress:
    the station's reader is the one waiting for that answer, and it is also the one that would
    read the station's answer to the GetVariables (the station is then not known yet, which the
    policies answer for: Q01.FR.08, Processing). Others may wait (``wait=True``).
    """

    def __init__(
        self,
        gateway: StationGateway,
        database: Database,
        *,
        command_timeout: float,
        declared_ttl: float = 60.0,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._gateway = gateway
        self._database = database
        self._command_timeout = command_timeout
        self._declared_ttl = declared_ttl
        self._clock = clock
        self._known: dict[str, tuple[StationV2XSupport, float]] = {}
        #: The read in progress per station (the latest boot's).
        self._reading: dict[str, trio.Event] = {}

    def __len__(self) -> int:
        return len(self._known)

    def forget(self, station_id: str) -> None:
        self._known.pop(station_id, None)

    async def get(
        self, station_id: str, version: Version, *, wait: bool = False
    ) -> StationV2XSupport:
        reading = self._reading.get(station_id)
        if wait and reading is not None:
            await reading.wait()
        known = self._known.get(station_id)
        if known is not None and trio.current_time() < known[1]:
            return known[0]
        declared = await self._database.run(v2x_support.declared_bidirectional, station_id)
        row = None
        if version is Version.V21:
            row = await self._database.run(v2x_support.get_support, station_id)
        support = StationV2XSupport(
            enabled=None if row is None else row.enabled,
            operation_modes=frozenset(() if row is None else row.operation_modes or ()),
            declared_bidirectional=declared,
        )
        # What a 2.1 station said holds until it boots again (``forget``), but the
        # registration's declaration may change through the REST API at any time.
        self._known[station_id] = (support, trio.current_time() + self._declared_ttl)
        return support

    async def refresh(self, station_id: str) -> StationV2XSupport:
        """The station's support once read: the read in progress, or a new one."""
        reading = self._reading.get(station_id)
        if reading is None:
            await self.read(station_id, self.start_read(station_id))
        else:
            await reading.wait()
        return await self.get(station_id, Version.V21)

    def start_read(self, station_id: str) -> trio.Event:
        """Mark a read of the station's variables as in progress (from now on, lookups wait
        for it); ``read`` does it."""
        self._known.pop(station_id, None)
        reading = self._reading[station_id] = trio.Event()
        return reading

    async def read(self, station_id: str, reading: trio.Event) -> StationV2XSupport | None:
        """Read the station's V2X variables with GetVariables, store and keep them; None when
        the station did not answer (what the table holds stays)."""
        try:
            return await self._read(station_id, reading)
        finally:
            reading.set()
            if self._reading.get(station_id) is reading:
                del self._reading[station_id]

    async def _read(self, station_id: str, reading: trio.Event) -> StationV2XSupport | None:
        try:
            result = await self._gateway.send(
                station_id,
                "GetVariables",
                support_get_variables_request(),
                requested_by="v2x",
                deadline=trio.current_time() + self._command_timeout,
            )
        except CommandError as exc:
            log.warning(
                "V2X variables not read",
                extra={"station": station_id, "error": type(exc).__name__, "reason": str(exc)},
            )
            return None
        results: list[dict[str, Any]] = list(result.response.get("getVariableResult", []))
        declared = await self._database.run(v2x_support.declared_bidirectional, station_id)
        support = station_support_from_variables(results, declared_bidirectional=declared)
        await self._database.run(
            v2x_support.upsert_support,
            v2x_support.StationSupportRow(
                station_id=station_id,
                enabled=support.enabled,
                operation_modes=sorted(support.operation_modes),
                raw=results,
                read_at=self._clock(),
            ),
        )
        if self._reading.get(station_id) is reading:  # no later boot started another read
            self._known[station_id] = (support, trio.current_time() + self._declared_ttl)
        log.info(
            "V2X support read",
            extra={
                "station": station_id,
                "enabled": support.enabled,
                "operation_modes": ",".join(sorted(support.operation_modes)),
            },
        )
        return support
