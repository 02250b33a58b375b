"""Pure parts of the opening handshake: the station id in the URL, subprotocol choice, refusals."""

from __future__ import annotations

import email.utils
import http
import unicodedata
from collections.abc import Sequence
from urllib.parse import unquote

from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.typing import Subprotocol

#: Part 4 §3.1.1: "The maximum length of the Charging Station identity is: 48".
MAX_STATION_ID_LENGTH = 48


def station_id_from_path(path: str, prefix: str) -> str | None:
    """The station id of a request path ``{prefix}/{stationId}[?query]``, or None if it has none.

    Part 4 §3.1.1: the id is appended to the endpoint path as one percent-encoded segment; it is
    at most 48 characters and never contains ':' (the Basic-auth separator). Control characters and
    '/' are refused too: ids end up in logs and in the REST API's URLs.
    """
    path = path.partition("?")[0]
    head, slash, segment = path.rpartition("/")
    if not slash or head != prefix or not segment:
        return None
    try:
        station_id = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None
    if not station_id or len(station_id) > MAX_STATION_ID_LENGTH:
        return None
    if any(ch in ":/" or unicodedata.category(ch).startswith("C") for ch in station_id):
        return None
    return station_id


def select_subprotocol(
    offered: Sequence[Subprotocol], supported: Sequence[str]
) -> Subprotocol | None:
    """The first subprotocol in the client's list that we support (its order is its preference).

    None when there is none: the caller then completes the handshake without a
    Sec-WebSocket-Protocol header and closes at once, as Part 4 §3.2 requires.
    """
    for protocol in offered:
        if protocol in supported:
            return protocol
    return None


def refusal(status: http.HTTPStatus, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """An HTTP error response that says nothing beyond its status line (no reason leaks)."""
    body = f"{status.value} {status.phrase}\n".encode()
    all_headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", "text/plain; charset=utf-8"),
            *headers,
        ]
    )
    return Response(status.value, status.phrase, all_headers, body)
