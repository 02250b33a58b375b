"""Renewal of the certificates the node signed (A02): one close to its end (``renew_before_days``)
gets its station a TriggerMessage SignChargingStationCertificate or SignV2GCertificate; the
station's SignCertificate then takes the usual path. A station is triggered at most once a day
per certificate kind (it backs off on its own meanwhile, A02.FR.17-19), and only while
connected: one that is not is tried at the next check."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import trio

from csms.actors.database import Database
from csms.commands import CommandError, StationGateway
from csms.config import CertificatesSettings
from csms.storage import certificates as repo

__all__ = ["Renewals"]

log = logging.getLogger("csms.certificates")

RETRIGGER_AFTER = dt.timedelta(days=1)
_MESSAGE = {
    "ChargingStationCertificate": "SignChargingStationCertificate",
    "V2GCertificateChain": "SignV2GCertificate",
}


class Renewals:
    def __init__(
        self,
        *,
        gateway: StationGateway,
        database: Database,
        config: CertificatesSettings,
        clock: Callable[[], dt.datetime],
        command_timeout: float,
    ) -> None:
        self.gateway = gateway
        self.database = database
        self.config = config
        self.clock = clock
        self.command_timeout = command_timeout
        self._triggered: dict[tuple[str, str], dt.datetime] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # the next check tries again
                log.exception("certificate renewal check failed", extra={"error": repr(exc)})
            await trio.sleep(self.config.renew_interval_s)

    async def check(self) -> list[str]:
        """Trigger the renewals due now; the stations triggered."""
        now = self.clock()
        due = await self.database.run(
            repo.expiring, now + dt.timedelta(days=self.config.renew_before_days)
        )
        triggered = []
        for row in due:
            station, kind = row.station_id, row.kind
            assert station is not None
            last = self._triggered.get((station, kind))
            if (last is not None and now - last < RETRIGGER_AFTER) or not (
                self.gateway.is_connected(station)
            ):
                continue
            try:
                result = await self.gateway.send(
                    station,
                    "TriggerMessage",
                    {"requestedMessage": _MESSAGE[kind]},
                    requested_by="certificates",
                    deadline=trio.current_time() + self.command_timeout,
                )
            except CommandError as exc:
                log.warning("renewal not triggered", extra={"station": station, "error": repr(exc)})
                continue
            self._triggered[(station, kind)] = now
            triggered.append(station)
            log.info(
                "certificate renewal triggered",
                extra={
                    "station": station,
                    "kind": kind,
                    "valid_to": row.valid_to.isoformat(),
                    "status": str(result.response.get("status")),
                },
            )
        return triggered
