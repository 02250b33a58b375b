"""How an id token's stored row becomes the status a station is answered with (C01, pure).

The row comes from ``id_tokens`` (through the node's cache); the station's version decides
what an ``Unknown`` status is called, since 2.0.1 has no such authorization status.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = ["UNKNOWN_TOKEN", "token_status"]

#: The status of a token that is not in ``id_tokens`` at all (C01: unknown tokens are Invalid).
UNKNOWN_TOKEN: Final = "Invalid"


def token_status(
    status: str,
    expires_at: dt.datetime | None,
    now: dt.datetime,
    *,
    unknown_allowed: bool,
) -> str:
    """The authorization status of a stored token at ``now``: its stored status, ``Expired``
    once ``expires_at`` has passed; ``Unknown`` where the station's version has it
    (``unknown_allowed``, OCPP 2.1), else ``Invalid``."""
    if expires_at is not None and expires_at <= now:
        return "Expired"
    if status == "Unknown" and not unknown_allowed:
        return UNKNOWN_TOKEN
    return status
