"""The certificates owner's HTTP peers: OCSP responders, an external CA, the contract-certificate
provider (httpx, on trio). Every failure is an ``HttpPeerError`` with a reason to log and
report; nothing here retries (the station does, per its own back-off)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import trio
from cryptography import x509

from csms.services.ocsp_check import (
    OcspCache,
    OcspRequestData,
    OcspResponseError,
    OcspResult,
    build_request,
    check_response,
)

__all__ = ["HttpPeerError", "OcspClient", "post_json"]


class HttpPeerError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _post(
    http: httpx.AsyncClient, url: str, timeout: float, **content: Any
) -> httpx.Response:
    try:
        return await http.post(url, timeout=timeout, **content)
    except httpx.TimeoutException:
        raise HttpPeerError(f"no answer from {url} within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise HttpPeerError(f"{url} unreachable: {type(exc).__name__}") from None


async def post_json(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """POST ``body``; the JSON object answered with 200, else ``HttpPeerError``."""
    response = await _post(http, url, timeout, json=body)
    if response.status_code != 200:
        raise HttpPeerError(f"{url} answered HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise HttpPeerError(f"{url} answered something that is not JSON") from None
    if not isinstance(answer, dict):
        raise HttpPeerError(f"{url} answered JSON that is not an object")
    return answer


class OcspClient:
    """OCSP over HTTP (RFC 6960 appendix A, POST), checked and cached until ``nextUpdate``.
    The URL must have been vetted by the caller (``check_responder_url``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        clock: Callable[[], dt.datetime],
        cache: OcspCache | None = None,
    ) -> None:
        self.http = http
        self.timeout = timeout
        self.clock = clock
        self.cache = cache if cache is not None else OcspCache()
        self.hits = 0
        self.fetches = 0
        self._fetching: dict[tuple[str, str, str, str], trio.Event] = {}

    async def status(self, data: OcspRequestData, issuer: x509.Certificate) -> OcspResult:
        """The checked answer about ``data`` (``OcspResponseError``, ``SignatureError`` or
        ``HttpPeerError`` when there is none). Concurrent asks about one certificate share one
        request (a burst of Authorize names the same sub-CAs): the others wait for its answer."""
        cached = self.cache.get(data, self.clock())
        if cached is not None:
            self.hits += 1
            return cached
        fetching = self._fetching.get(data.key)
        if fetching is not None:
            await fetching.wait()
            cached = self.cache.get(data, self.clock())
            if cached is not None:
                self.hits += 1
                return cached
            # that request failed (or its answer cannot be kept): ask for ourselves
        done = self._fetching[data.key] = trio.Event()
        try:
            return await self._fetch(data, issuer)
        finally:
            if self._fetching.get(data.key) is done:
                del self._fetching[data.key]
            done.set()

    async def _fetch(self, data: OcspRequestData, issuer: x509.Certificate) -> OcspResult:
        self.fetches += 1
        response = await _post(
            self.http,
            data.responder_url,
            self.timeout,
            content=build_request(data),
            headers={"Content-Type": "application/ocsp-request"},
        )
        if response.status_code != 200:
            raise OcspResponseError(f"OCSP responder answered HTTP {response.status_code}")
        result = check_response(response.content, data, issuer, self.clock())
        self.cache.put(data, result)
        return result
