"""The REST API's V2G compensation and payouts over the node's money actor and database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from csms.actors import Node, payouts
from csms.api import CalculatedInterval, Calculation, PayoutRunResult, Unavailable
from csms.runtime import ActorError
from csms.services.compensation import Compensation, RegisterReading
from csms.storage import Connection, compensations, v2g_sessions


def _of(result: Compensation, group: str) -> Calculation:
    return Calculation(
        exported_wh=result.exported_wh,
        gross_rs=result.gross_rs,
        margin_rs=result.margin_rs,
        net_rs=result.net_rs,
        price_source=result.source.value,
        station_group=group,
        margin_percent=result.margin.percent,
        margin_rs_per_kwh=result.margin.rs_per_kwh,
        simulated=result.simulated,
        intervals=[
            CalculatedInterval(i.start, i.end, i.energy_wh, i.price_rs_per_kwh, i.gross_rs)
            for i in result.intervals
        ],
    )


def _recorded(row: compensations.CompensationRow, conn: Connection) -> Calculation:
    return Calculation(
        exported_wh=row.exported_wh,
        gross_rs=row.gross_brl,
        margin_rs=row.margin_brl,
        net_rs=row.net_brl,
        price_source=row.price_source,
        station_group=row.station_group,
        margin_percent=row.margin_percent,
        margin_rs_per_kwh=row.margin_brl_per_kwh,
        simulated=row.simulated,
        intervals=[
            CalculatedInterval(
                i.starts_at, i.ends_at, i.energy_wh, i.price_brl_per_kwh, i.gross_brl
            )
            for i in compensations.intervals(conn, row.id)
        ],
        compensation_id=row.id,
    )


def _session(
    conn: Connection, config: payouts.MoneyConfig, session_id: uuid.UUID
) -> Calculation | None:
    row = compensations.by_session(conn, session_id)
    if row is not None:
        return _recorded(row, conn)
    session = v2g_sessions.get(conn, session_id)
    if session is None:
        return None
    group, _ = payouts.price_source(config, session.station_id)
    return _of(payouts.session_compensation(conn, config, session), group)


def _readings(
    conn: Connection,
    config: payouts.MoneyConfig,
    station_id: str,
    kind: str | None,
    readings: Sequence[RegisterReading],
) -> Calculation:
    group, source = payouts.price_source(config, station_id, kind)
    return _of(payouts.compensate_readings(conn, config, readings, source), group)


@attrs.frozen
class NodeMoney:
    """The REST API's ``MoneyControl`` over the node (``csms/actors/payouts``)."""

    node: Node

    @property
    def _config(self) -> payouts.MoneyConfig:
        return payouts.money_config(self.node.settings)

    async def calculate_session(self, session_id: uuid.UUID) -> Calculation | None:
        return await self.node.database.run(_session, self._config, session_id)

    async def calculate_readings(
        self, station_id: str, price_source: str | None, readings: Sequence[RegisterReading]
    ) -> Calculation:
        return await self.node.database.run(
            _readings, self._config, station_id, price_source, readings
        )

    async def run_payouts(self) -> PayoutRunResult:
        try:
            run = await payouts.ask_money(self.node.root, payouts.RunPayouts(), timeout=None)
        except (KeyError, ActorError):
            raise Unavailable("the node's payouts are not available") from None
        return PayoutRunResult(run.enabled, run.claimed, run.paid, run.failed, run.retrying)
