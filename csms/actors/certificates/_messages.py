"""What other parts of the node tell or ask the certificates owner."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["VerifyContract"]


@attrs.frozen
class VerifyContract:
    """Asked by a station's Authorize handler (through ``CertificateVerifierClient``): the
    ``certificateStatus`` of a contract, from the PEM ``certificate`` chain when the station
    sent one (C07.FR.06), else from its ``iso15118CertificateHashData`` (wire JSON)."""

    station_id: str
    id_token: str
    id_token_type: str
    hash_data: tuple[Any, ...]
    certificate: str | None = None
