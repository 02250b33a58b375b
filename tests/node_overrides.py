"""The settings every test node shares: loopback on free ports, CCEE not fetched, and a data
directory of the test run's own (a node keeps files there, e.g. the firmware store), never the
checkout's ``.csms``."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from typing import Any

#: The bootstrap admin token of the test nodes (``CSMS_ADMIN_TOKEN``, the ``admin_env`` fixture).
ADMIN_TOKEN = "admin-bootstrap-token-for-tests-0123456789"


@functools.cache
def _data_dir() -> str:
    path = tempfile.mkdtemp(prefix="csms-test-node-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def node_overrides(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Overrides for ``load_settings`` of a node on ``database_url``; ``overrides`` win."""
    return {
        "database.url": database_url,
        "database.data_dir": _data_dir(),
        "ocpp.host": "127.0.0.1",
        "ocpp.port": 0,
        "http.host": "127.0.0.1",
        "http.port": 0,
        "v2g.ccee.fetch": False,  # CCEE is faked where it is tested
        **overrides,
    }
