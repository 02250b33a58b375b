"""Transactions (list, and a chart of power, energy and SoC from the stored meter values),
firmware jobs and campaigns (with their progress), and certificates."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from starlette.responses import Response

from csms.storage import certificates, firmware, firmware_campaigns, transactions

from .._schema import parse_datetime
from .._send import valid_station_id
from ._core import Dashboard, Page, page

__all__ = ["SERIES", "activity_routes", "chart_series"]

#: The measurands charted, with their chart label and unit scale.
SERIES = {
    "Power.Active.Import": ("Power import (kW)", Decimal(1000)),
    "Power.Active.Export": ("Power export (kW)", Decimal(1000)),
    "Energy.Active.Import.Register": ("Energy import (kWh)", Decimal(1000)),
    "Energy.Active.Export.Register": ("Energy export (kWh)", Decimal(1000)),
    "SoC": ("SoC (%)", Decimal(1)),
}
TX_PAGE = 50
#: A certificate expiring within this long is flagged.
EXPIRY_WARNING = dt.timedelta(days=30)


def chart_series(readings: list[transactions.MeterValueReading]) -> dict[str, Any]:
    """uPlot's columns: the instants (epoch seconds) and one series per measurand present; a
    measurand given per phase only is the sum of its phases at each instant."""
    totals: dict[str, dict[float, Decimal]] = defaultdict(dict)
    phased: dict[str, dict[float, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in readings:
        if r.measurand not in SERIES or (r.location == "EV" and r.measurand != "SoC"):
            continue
        at = r.timestamp.timestamp()
        if r.phase is None:
            totals[r.measurand][at] = r.value
        else:
            phased[r.measurand][at] += r.value
    for measurand, values in phased.items():
        if measurand not in totals:
            totals[measurand] = dict(values)
    xs = sorted({at for values in totals.values() for at in values})
    series = []
    for measurand, (label, scale) in SERIES.items():
        found = totals.get(measurand)
        if found:
            column = [float(found[x] / scale) if x in found else None for x in xs]
            series.append({"label": label, "values": column})
    return {"x": xs, "series": series}


def _safe_location(url: str) -> str:
    """A firmware location without credentials or query (a signed URL's token is a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def activity_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    @page(dash)
    async def transaction_list(p: Page) -> Response:
        q = p.request.query_params
        station = q.get("station", "").strip() or None
        if station is not None and not valid_station_id(station):
            station = None
        state = q.get("state", "")
        active = {"active": True, "ended": False}.get(state)
        after = None
        if q.get("afterAt") and q.get("afterStation") and q.get("afterTx"):
            try:
                after = (parse_datetime(q["afterAt"]), q["afterStation"], q["afterTx"])
            except ValueError:
                after = None
        rows = await p.db.run(
            transactions.list_transactions,
            station_id=station,
            active=active,
            after=after,
            limit=TX_PAGE,
        )
        older = None
        if len(rows) == TX_PAGE:
            last = rows[-1]
            older = "/transactions?" + urlencode(
                {
                    "station": station or "",
                    "state": state,
                    "afterAt": last.started_at.isoformat(),
                    "afterStation": last.station_id,
                    "afterTx": last.transaction_id,
                }
            )
        context = {"rows": rows, "station": station or "", "state": state, "older": older}
        if p.partial:
            return p.render("_transactions_table.html", **context)
        return p.render("transactions.html", **context)

    @page(dash)
    async def transaction(p: Page) -> Response:
        station_id = p.request.path_params["stationId"]
        tx_id = p.request.path_params["transactionId"]
        db = p.db
        row = None
        if valid_station_id(station_id) and len(tx_id) <= 36:
            row = await db.run(transactions.get, station_id, tx_id)
        if row is None:
            return p.problem(404, "Not found", f"No transaction {tx_id!r} on {station_id!r}.")
        readings = await db.run(transactions.meter_values_by_transaction, station_id, tx_id)
        events = await db.run(transactions.events, station_id, tx_id)
        chart = chart_series(readings)
        context = {
            "tx": row,
            "events": events,
            "chart": orjson.dumps(chart).decode(),
            "readings": len(readings),
        }
        if p.partial:
            return p.render("_transaction_live.html", **context)
        return p.render("transaction.html", **context)

    @page(dash)
    async def firmware_jobs(p: Page) -> Response:
        db = p.db
        jobs = await db.run(firmware.list_jobs, limit=100)
        views = [{"job": j, "location": _safe_location(j.location)} for j in jobs]
        campaigns: list[dict[str, Any]] = []
        for c in await db.run(firmware_campaigns.list_campaigns, limit=20):
            counts = await db.run(firmware_campaigns.counts, c.id)
            campaigns.append(
                {
                    "c": c,
                    "location": _safe_location(c.location),
                    "counts": counts,
                    "total": sum(counts.values()),
                    "done": sum(counts[s] for s in ("installed", "failed", "skipped")),
                }
            )
        context = {"jobs": views, "campaigns": campaigns}
        if p.partial:
            return p.render("_firmware_table.html", **context)
        return p.render("firmware.html", **context)

    @page(dash)
    async def certificate_list(p: Page) -> Response:
        rows = await p.db.run(certificates.list_certificates)
        now = dt.datetime.now(dt.UTC)
        views = [
            {
                "cert": c,
                "expired": c.valid_to <= now,
                "soon": now < c.valid_to <= now + EXPIRY_WARNING,
            }
            for c in sorted(rows, key=lambda c: c.valid_to)[:500]
        ]
        return p.render("certificates.html", certs=views, total=len(rows))

    return [
        ("GET", "/transactions", transaction_list),
        ("GET", "/transactions/{stationId}/{transactionId}", transaction),
        ("GET", "/firmware", firmware_jobs),
        ("GET", "/certificates", certificate_list),
    ]
