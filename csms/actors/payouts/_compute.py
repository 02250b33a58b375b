"""A session's compensation computed from what the database holds (one transaction each, run
off the trio thread by ``Database.run``): its export register readings, the PLD cached for its
hours (the simulated curve where none is), the price source of its station's group.

The readings are the session's EVSE's, from the session's creation to its end. The session's
own last export reading (``export_last_wh``, taken by its actor from a message stored before)
closes the series when the meter values end before it, so the compensated energy is never
less than the session's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from csms.services.compensation import (
    Compensation,
    CompensationError,
    RegisterReading,
    compensate,
)
from csms.services.pld import PldTable
from csms.services.retail_price import (
    PldSource,
    PriceSource,
    PriceSourceKind,
    RegulatedSource,
)
from csms.storage import Connection
from csms.storage import compensations as repo
from csms.storage.grid_prices import read_prices
from csms.storage.v2g_sessions import SessionRow

from ._config import MoneyConfig

__all__ = [
    "DEFAULT_GROUP",
    "compensate_readings",
    "interval_rows",
    "price_source",
    "record_session",
    "session_compensation",
    "session_series",
]

DEFAULT_GROUP: Final = "default"
_HOUR: Final = dt.timedelta(hours=1)


def price_source(
    config: MoneyConfig, station_id: str, kind: str | None = None
) -> tuple[str, PriceSource]:
    """The station group and its price source; with ``kind``, a source of that kind instead
    (the group's if it is one, else the first configured; regulated and pld always exist)."""
    group = config.compensation.group_of(station_id) or DEFAULT_GROUP
    source = config.grid.source_for(group)
    if kind is None or source.kind == kind:
        return group, source
    for name, other in config.grid.sources.items():
        if other.kind == kind:
            return name, other
    if kind == PriceSourceKind.REGULATED:
        return group, RegulatedSource()
    if kind == PriceSourceKind.PLD:
        return group, PldSource()
    raise CompensationError("priceSource", f"no {kind} price source is configured")


def compensate_readings(
    conn: Connection, config: MoneyConfig, readings: Sequence[RegisterReading], source: PriceSource
) -> Compensation:
    """Price ``readings`` (checked: ``CompensationError`` naming the field) with the PLD cached
    for their hours."""
    table = PldTable()  # naive instants are refused by ``compensate`` before any price
    if readings and all(r.at.utcoffset() is not None for r in (readings[0], readings[-1])):
        table = read_prices(conn, readings[0].at - _HOUR, readings[-1].at + _HOUR)
    market = config.grid.market(config.tz, table)
    return compensate(readings, market, source, config.compensation.margin)


def session_series(conn: Connection, session: SessionRow) -> list[RegisterReading]:
    """The session's export register series (see the module's docstring)."""
    series = [RegisterReading(at, value) for at, value in repo.export_readings(conn, session)]
    last = session.export_last_wh
    end = session.ended_at or session.updated_at
    if series and last is not None and last > series[-1].export_register_wh and end > series[-1].at:
        series.append(RegisterReading(end, last))
    return series


def record_session(
    conn: Connection, config: MoneyConfig, session: SessionRow
) -> tuple[repo.CompensationRow, bool]:
    """Compute and record an ended session's compensation, once: ``(row, True)`` when this
    call recorded it, ``(the recorded one, False)`` when it was already."""
    existing = repo.by_session(conn, session.id)
    if existing is not None:
        return existing, False
    assert session.ended_at is not None
    group, source = price_source(config, session.station_id)
    result = compensate_readings(conn, config, session_series(conn, session), source)
    new = repo.NewCompensation(
        session_id=session.id,
        station_id=session.station_id,
        user_id=session.user_id,
        station_group=group,
        price_source=result.source.value,
        simulated=result.simulated,
        exported_wh=result.exported_wh,
        gross_brl=result.gross_rs,
        margin_brl=result.margin_rs,
        net_brl=result.net_rs,
        margin_percent=result.margin.percent,
        margin_brl_per_kwh=result.margin.rs_per_kwh,
        session_started_at=session.started_at,
        session_ended_at=session.ended_at,
    )
    return repo.record(conn, new, interval_rows(result))


def interval_rows(result: Compensation) -> list[repo.IntervalRow]:
    return [
        repo.IntervalRow(
            starts_at=i.start,
            ends_at=i.end,
            energy_wh=i.energy_wh,
            price_brl_per_kwh=i.price_rs_per_kwh,
            gross_brl=i.gross_rs,
            post=i.price.post.value,
            pld_brl_per_mwh=i.price.pld.rs_per_mwh,
            pld_source=i.price.pld.source,
        )
        for i in result.intervals
    ]


def session_compensation(
    conn: Connection, config: MoneyConfig, session: SessionRow
) -> Compensation:
    """What the session is worth so far (not stored; an active session up to its last
    reading)."""
    _, source = price_source(config, session.station_id)
    return compensate_readings(conn, config, session_series(conn, session), source)
