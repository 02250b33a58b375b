"""``csms serve``: one node in this process until a signal stops it."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal

import trio

from csms.api import ADMIN_TOKEN_ENV
from csms.config import Settings
from csms.node._build import open_node

log = logging.getLogger("csms.node")


def tune_garbage_collector() -> None:
    """For a node process, once it has started (docs/BENCHMARKS.md, station connectivity).

    What exists by then (modules, schemas, validators) lives as long as the process: freezing
    it keeps it out of the full collections that otherwise cost tens of milliseconds of p99
    under load. A message makes short-lived objects by the hundred, so the young generation is
    collected every 10,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def raise_open_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files to the hard limit; return the limit now in force.

    Every station holds a socket, and the usual soft limit (1024) would stop a node long before
    its memory does. Beyond the hard limit only the administrator can go: a warning names it.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = wanted + _SPARE_FILES if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
            soft = max(soft, target)
    if soft < wanted + _SPARE_FILES:
        log.warning(
            "open-file limit below what ocpp.max_connections needs",
            extra={"limit": soft, "max_connections": wanted, "spare": _SPARE_FILES},
        )
    return soft


# Descriptors besides the stations' sockets: listeners, database connections, logs, epoll.
_SPARE_FILES = 100


async def serve(settings: Settings) -> None:
    """Run a node until SIGINT or SIGTERM, then stop it in reverse order."""
    raise_open_file_limit(settings.ocpp.max_connections)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(settings, http=True) as node:
            tune_garbage_collector()
            for host, port in node.ocpp_addresses:
                scheme = "wss" if settings.ocpp.security_profile >= 2 else "ws"
                print(
                    f"OCPP:     {scheme}://{host}:{port}{settings.ocpp.path_prefix}/{{stationId}}"
                )
            for host, port in node.http_addresses:
                print(f"HTTP API: http://{host}:{port}/api/v1 (OpenAPI at /openapi.json)")
            nats = node.settings.nats
            if nats.url:  # docs/NATS.md
                print(f"NATS:     {nats.url} (events on {nats.prefix}.events.> in {nats.stream})")
            if not os.environ.get(ADMIN_TOKEN_ENV):
                print(
                    f"No {ADMIN_TOKEN_ENV} set: create a token with "
                    "`csms token create --role admin --name NAME`"
                )
            print(f"csms node {settings.node.id} running; Ctrl-C stops it", flush=True)
            async for signum in signals:
                log.info("stopping", extra={"signal": signal.Signals(signum).name})
                break
    print("csms node stopped", flush=True)
