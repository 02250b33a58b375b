"""A local fake of CCEE's open-data portal: a real CKAN-shaped HTTP server on loopback.

``package_show`` lists the yearly resources of ``pld_horario``; ``datastore_search`` pages through
their records with ``limit`` / ``offset`` and a ``filters`` JSON object. The 2026 resource writes
``DIA`` as a day number, the 2025 one as ``dd/mm/yyyy`` (both occur in CCEE's data), and 2026 holds
three malformed rows. ``failures`` makes the next requests fail in order: an HTTP status, "hang"
(the answer waits until the test ends: a client timeout) or "garbage" (no JSON).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

SUBMARKETS = ("SUDESTE", "SUL", "NORDESTE", "NORTE")
MALFORMED = (
    {"MES_REFERENCIA": 202606, "SUBMERCADO": "SUDESTE", "DIA": 1, "HORA": 24, "PLD_HORA": 100},
    {"MES_REFERENCIA": 202606, "SUBMERCADO": "SUL", "DIA": 1, "HORA": 3, "PLD_HORA": "abc"},
    {"MES_REFERENCIA": 202606, "SUBMERCADO": "CENTRO", "DIA": 1, "HORA": 3, "PLD_HORA": 100},
)


def month_rows(year: int, month: int, days: int, *, dated: bool) -> list[dict[str, Any]]:
    """``days`` days of 24 hours per submarket; SUDESTE day 2 19h is above the ceiling."""
    rows = []
    for day in range(1, days + 1):
        for index, submarket in enumerate(SUBMARKETS):
            for hour in range(24):
                value = (
                    2000
                    if (submarket, day, hour) == ("SUDESTE", 2, 19)
                    else 100 + 10 * index + hour
                )
                rows.append(
                    {
                        "_id": len(rows) + 1,
                        "MES_REFERENCIA": year * 100 + month,
                        "SUBMERCADO": submarket,
                        "DIA": f"{day:02d}/{month:02d}/{year}" if dated else day,
                        "HORA": hour,
                        "PLD_HORA": value + 0.25,
                    }
                )
    return rows


@attrs.define
class FakeCcee:
    base_url: str = ""
    failures: list[int | str] = attrs.Factory(list)
    requests: list[tuple[str, dict[str, str], str | None]] = attrs.Factory(list)
    release: trio.Event = attrs.Factory(trio.Event)
    resources: dict[str, list[dict[str, Any]]] = attrs.Factory(
        lambda: {
            "r2026": month_rows(2026, 6, 2, dated=False)
            + list(MALFORMED)
            + month_rows(2026, 5, 1, dated=False),
            "r2025": month_rows(2025, 6, 2, dated=True),
        }
    )

    async def _failure(self) -> Response | None:
        if not self.failures:
            return None
        failure = self.failures.pop(0)
        if failure == "hang":
            await self.release.wait()
            return PlainTextResponse("late", status_code=504)
        if failure == "garbage":
            return PlainTextResponse("<html>maintenance</html>")
        assert isinstance(failure, int)
        return JSONResponse({"success": False, "error": {"message": "no"}}, status_code=failure)

    def _record(self, request: Request) -> None:
        auth = request.headers.get("authorization")
        self.requests.append((request.url.path, dict(request.query_params), auth))

    async def package_show(self, request: Request) -> Response:
        self._record(request)
        if (failure := await self._failure()) is not None:
            return failure
        resources = [
            {"id": "r2025", "name": "pld_horario_2025"},
            {"id": "r2026", "name": "PLD_HORARIO_2026"},
            {"id": "other", "name": "pld_media_diaria_2026"},
        ]
        return JSONResponse(
            {"success": True, "result": {"name": "pld_horario", "resources": resources}}
        )

    async def datastore_search(self, request: Request) -> Response:
        self._record(request)
        if (failure := await self._failure()) is not None:
            return failure
        query = request.query_params
        rows = self.resources[query["resource_id"]]
        filters = json.loads(query.get("filters", "{}"))
        # PostgreSQL reads a quoted filter value as the column's type: compare as text.
        rows = [r for r in rows if all(str(r.get(k)) == str(v) for k, v in filters.items())]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        page = rows[offset : offset + limit]
        return JSONResponse({"success": True, "result": {"records": page, "total": len(rows)}})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/3/action/package_show", self.package_show),
                Route("/api/3/action/datastore_search", self.datastore_search),
            ]
        )


async def _serve(fake: FakeCcee, stop: trio.Event, *, task_status: Any) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 1
    await serve(fake.app(), config, shutdown_trigger=stop.wait, task_status=task_status)


async def running_fake_ccee(nursery: trio.Nursery) -> AsyncIterator[FakeCcee]:
    """Serves a ``FakeCcee`` on a free loopback port for the length of a test."""
    fake, stop = FakeCcee(), trio.Event()
    binds = await nursery.start(functools.partial(_serve, fake, stop))
    fake.base_url = binds[0]
    try:
        yield fake
    finally:
        fake.release.set()
        stop.set()
