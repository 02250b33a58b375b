"""The station list (server-side paging and filters) and the station page."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from csms.services.basic_auth import masked
from csms.storage import certificates, commands, stations, transactions
from csms.storage import dashboard as queries

from .._auth import Role
from .._send import valid_station_id
from ._commands import TRIGGER_MESSAGES
from ._core import Dashboard, Page, page
from ._overview import cached

__all__ = ["PAGE_SIZE", "station_routes"]

PAGE_SIZE = 50


def _text(p: Page, name: str, limit: int = 50) -> str | None:
    value = p.request.query_params.get(name, "").strip()
    return value[:limit] if value and "\x00" not in value else None


def _offset(p: Page) -> int:
    raw = p.request.query_params.get("offset", "0")
    return min(int(raw), 10_000_000) if raw.isdigit() else 0


def _connector_summary(rows: list[queries.ConnectorRow]) -> dict[str, list[Any]]:
    by_station: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_station[row.station_id].append(row)
    return by_station


def _command_view(row: commands.CommandRow) -> dict[str, Any]:
    """A command as shown: its payload with any new password masked."""
    return {
        "row": row,
        "payload": dict(masked(row.action, row.payload)),
        "response": row.response,
    }


def station_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    @page(dash)
    async def station_list(p: Page) -> Response:
        status = _text(p, "status")
        f = queries.StationFilter(
            status=status if status in queries.STATUSES else None,
            model=_text(p, "model"),
            firmware=_text(p, "firmware"),
            node=_text(p, "node"),
            search=_text(p, "q", 48),
        )
        offset = _offset(p)
        db = p.db
        result = await db.run(queries.station_page, f, offset=offset, limit=PAGE_SIZE)
        connectors = await db.run(queries.connectors_of, [r.id for r in result.rows])
        params = {
            k: v
            for k, v in {
                "status": f.status,
                "model": f.model,
                "firmware": f.firmware,
                "node": f.node,
                "q": f.search,
            }.items()
            if v
        }

        def link(to: int) -> str:
            return "/stations?" + urlencode({**params, "offset": to})

        context = {
            "result": result,
            "connectors": _connector_summary(connectors),
            "filter": f,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "previous": link(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
            "next": link(offset + PAGE_SIZE) if offset + PAGE_SIZE < result.total else None,
            "self_url": "/stations?" + urlencode({**params, "offset": offset}),
        }
        if p.partial:
            return p.render("_stations_table.html", **context)
        options = await cached(dash, "filter-options", 30.0, lambda: db.run(queries.filter_options))
        return p.render("stations.html", options=options, statuses=queries.STATUSES, **context)

    @page(dash)
    async def station(p: Page) -> Response:
        station_id = p.request.path_params["stationId"]
        db = p.db
        row = await db.run(stations.get, station_id) if valid_station_id(station_id) else None
        if row is None:
            return p.problem(404, "Not found", f"No station {station_id!r}.")
        snapshot = await p.control.station_snapshot(station_id)
        context = {
            "station": row,
            "connected": p.control.gateway.is_connected(station_id),
            "snapshot": snapshot,
            "connectors": await db.run(queries.connectors_of, [station_id]),
            "active": await db.run(transactions.active_transactions, station_id),
            "commands": [
                _command_view(c)
                for c in await db.run(commands.list_for_station, station_id, limit=15)
            ],
            "messages": await db.run(queries.station_messages, station_id, limit=30),
            "certificates": await db.run(certificates.list_certificates, station_id=station_id),
            "triggers": TRIGGER_MESSAGES,
            "can_command": p.can(Role.OPERATOR),
        }
        if p.partial:
            return p.render("_station_live.html", **context)
        return p.render("station.html", **context)

    return [
        ("GET", "/stations", station_list),
        ("GET", "/stations/{stationId}", station),
    ]
