"""A client of CCEE's open-data portal (CKAN) for the hourly PLD, on httpx (async, runs on trio).

The dataset ``pld_horario`` holds one resource per year, ``pld_horario_YYYY``: ``package_show``
finds the year's resource id, ``datastore_search`` pages through its records (``limit`` /
``offset``, filtered on ``MES_REFERENCIA``). Numbers are read as ``Decimal`` straight from the
JSON text, never through float.

A timeout, a connection failure, a 429 or a 5xx is retried with backoff (``backoff`` gives the
pauses); any other 4xx (a 403 for a wrong key) fails at once: asking again will not fix it. Either
way the caller gets ``CceeUnavailable`` and falls back to the simulated curve. The optional key
goes in the ``Authorization`` header (CKAN's convention) and is never logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self

import anyio
import attrs
import httpx

from csms.services.pld import PLD_LIMITS, PldLimits, PldPrice, RejectedRow, parse_ccee_rows

__all__ = ["DEFAULT_BASE_URL", "CceeClient", "CceeError", "CceeUnavailable", "MonthPld"]

log = logging.getLogger("csms.prices.ccee")

DEFAULT_BASE_URL: Final = "https://dadosabertos.ccee.org.br"
DATASET: Final = "pld_horario"
#: A guard against a server whose ``total`` never ends the paging.
MAX_PAGES: Final = 10_000


class CceeError(Exception):
    """An answer that is no CKAN answer (bad JSON, ``success: false``, no such resource)."""


class CceeUnavailable(CceeError):
    """CCEE could not be asked: timeouts, connection failures, or HTTP errors after retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@attrs.frozen
class MonthPld:
    """One month of one year's resource: the prices read and the rows that could not be."""

    prices: tuple[PldPrice, ...]
    rejected: tuple[RejectedRow, ...]
    pages: int


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class CceeClient:
    """``async with CceeClient(base_url, api_key) as ccee: await ccee.month(2026, 6)``."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        backoff: Sequence[float] = (0.5, 1.0, 2.0),
        page_size: int = 1000,
        limits: Mapping[int, PldLimits] = PLD_LIMITS,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        headers = {"Authorization": api_key} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout
        )
        self.backoff = tuple(backoff)
        self.page_size = page_size
        self.limits = limits
        self._sleep = sleep
        #: Resource ids by year: a year's resource keeps its id, so a refresh asks once.
        self._resources: dict[int, str] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _action(self, action: str, params: Mapping[str, str | int]) -> Any:
        """``result`` of one CKAN action, with the retries; the attempts are ``backoff`` + 1."""
        path = f"/api/3/action/{action}"
        for attempt, pause in enumerate((*self.backoff, None)):
            try:
                response = await self._http.get(path, params=dict(params))
            except httpx.TransportError as exc:  # timeouts are transport errors too
                failure, status = f"{type(exc).__name__}", None
            else:
                if response.is_success:
                    return _result(action, response)
                failure, status = f"HTTP {response.status_code}", response.status_code
                if not _retryable(status):
                    raise CceeUnavailable(f"{action}: {failure}", status)
            log.warning(
                "CCEE request failed",
                extra={"action": action, "attempt": attempt + 1, "failure": failure},
            )
            if pause is None:
                raise CceeUnavailable(f"{action}: {failure} after {attempt + 1} attempts", status)
            await self._sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def resource_id(self, year: int) -> str:
        """The id of ``pld_horario_YYYY`` in the dataset's resources."""
        if year in self._resources:
            return self._resources[year]
        result = await self._action("package_show", {"id": DATASET})
        wanted = f"{DATASET}_{year}"
        resources = result.get("resources") if isinstance(result, dict) else None
        for resource in resources if isinstance(resources, list) else ():
            if isinstance(resource, dict) and str(resource.get("name", "")).lower() == wanted:
                self._resources[year] = str(resource["id"])
                return self._resources[year]
        raise CceeError(f"{DATASET} has no resource {wanted}")

    async def records(
        self, resource_id: str, filters: Mapping[str, Any] | None = None
    ) -> tuple[list[Any], int]:
        """Every record of the resource (matching ``filters``), page by page, and the pages read."""
        records: list[Any] = []
        for page in range(MAX_PAGES):
            params: dict[str, str | int] = {
                "resource_id": resource_id,
                "limit": self.page_size,
                "offset": page * self.page_size,
            }
            if filters:
                params["filters"] = json.dumps(dict(filters))
            result = await self._action("datastore_search", params)
            batch = result.get("records") if isinstance(result, dict) else None
            if not isinstance(batch, list):
                raise CceeError("datastore_search: result has no records list")
            records.extend(batch)
            total = result.get("total")
            if not batch or (isinstance(total, int) and len(records) >= total):
                return records, page + 1
        raise CceeError(f"datastore_search: more than {MAX_PAGES} pages")

    async def month(self, year: int, month: int) -> MonthPld:
        """The hourly PLD of every submarket for one month, clamped; bad rows set apart."""
        resource = await self.resource_id(year)
        # As text: PostgreSQL (under CKAN's datastore) reads a quoted value as a number where the
        # column is numeric, while a number against a text column is an error.
        rows, pages = await self.records(resource, {"MES_REFERENCIA": f"{year}{month:02d}"})
        prices, rejected = parse_ccee_rows(rows, self.limits)
        if rejected:
            log.warning(
                "CCEE rows rejected",
                extra={"count": len(rejected), "first": rejected[0].reason, "resource": resource},
            )
        return MonthPld(tuple(prices), tuple(rejected), pages)


def _result(action: str, response: httpx.Response) -> Any:
    try:
        body = json.loads(response.text, parse_float=Decimal)
    except ValueError:
        raise CceeError(f"{action}: the answer is no JSON") from None
    if not isinstance(body, dict) or body.get("success") is not True:
        raise CceeError(f"{action}: CKAN answered without success")
    return body.get("result")
