"""The load test: N simulated stations in one process under a dynamic supervisor, started at a
given ramp, optionally registered through the REST API first; progress on a callback, and a
report of throughput and latency percentiles per message type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import attrs
import httpx
import trio

from csms.protocol import Version
from csms.runtime import DynamicSupervisor, RestartIntensity

from ._backoff import ReconnectBackoff
from ._model import Ev
from ._state import Behaviour, StationConfig, StationState
from ._station import station_spec
from ._stats import LoadStats

__all__ = ["SCENARIOS", "LoadTestOptions", "RegistrationError", "register_stations", "run_loadtest"]

log = logging.getLogger("csms.simulator")

SCENARIOS: Final = ("heartbeat", "transactions", "mixed", "v2g")


class RegistrationError(RuntimeError):
    """The REST API refused to register a station."""


@attrs.frozen
class LoadTestOptions:
    server: str
    stations: int
    password: str
    api: str = "http://127.0.0.1:8080"
    ramp: float = 100.0  # stations started per second
    duration: float = 30.0  # seconds measured once the fleet is up (see ready_timeout)
    # The fleet is up when every station booted and had its connector statuses answered, or
    # when this many seconds passed after the last one was started (a slow or failing node).
    ready_timeout: float = 60.0
    scenario: str = "mixed"
    first: int = 0  # index of the first station (workers take slices)
    id_prefix: str = "LT"
    version: Version = Version.V201
    heartbeat_interval: float = 60.0
    meter_interval: float = 15.0
    charge_seconds: float = 60.0
    idle_seconds: float = 30.0
    response_timeout: float = 30.0
    validate: bool = False
    #: This fraction of the stations (spread evenly over the indexes) are OCPP 2.1 stations
    #: with a V2X EV, whatever the scenario gives the others (a soak's V2G sessions).
    v2g_share: float = 0.0
    #: More CSMS URLs (other nodes): station i's priority list starts at ``[server, *these][i %
    #: n]`` and goes round, so the stations are spread over the nodes and fail over.
    more_servers: tuple[str, ...] = ()

    def station_id(self, index: int) -> str:
        return f"{self.id_prefix}{index:06d}"

    def in_v2g_share(self, index: int) -> bool:
        return int((index + 1) * self.v2g_share) > int(index * self.v2g_share)

    def behaviour(self, index: int) -> tuple[Behaviour, Ev]:
        kind = self.scenario
        if kind == "mixed":  # 60 % idle heartbeats, 30 % charging, 10 % V2G
            slot = index % 10
            kind = "heartbeat" if slot < 6 else "transactions" if slot < 9 else "v2g"
        if self.in_v2g_share(index):
            kind = "v2g"
        ev = Ev(
            soc=60.0,
            battery_kwh=60.0,
            v2g=kind == "v2g",
            discharge_kw=11.0,
            id_token=f"{self.station_id(index)}-EV",  # one token per EV, for users to own
        )
        return Behaviour(kind, self.charge_seconds, self.idle_seconds), ev

    def config(self, index: int) -> StationConfig:
        behaviour, ev = self.behaviour(index)
        servers = (self.server, *self.more_servers)
        return StationConfig(
            station_id=self.station_id(index),
            server=servers[index % len(servers)],
            fallback_servers=tuple(
                servers[(index + k) % len(servers)] for k in range(1, len(servers))
            ),
            password=self.password,
            version=Version.V21 if self.in_v2g_share(index) else self.version,
            ev=ev,
            meter_interval=self.meter_interval,
            heartbeat_interval=self.heartbeat_interval,
            response_timeout=self.response_timeout,
            backoff=ReconnectBackoff(wait_minimum=1.0, random_range=2.0, repeat_times=3),
            retry_interval=1.0,
            validate=self.validate,
            behaviour=behaviour,
            seed=index,
        )


async def register_stations(options: LoadTestOptions, token: str, *, concurrency: int = 16) -> int:
    """Create the stations through the REST API; returns how many were created. A station that
    exists is left alone (an earlier run registered it, presumably with the same password)."""
    limiter = trio.CapacityLimiter(concurrency)
    created = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=options.api, headers=headers, timeout=30) as client:

        async def one(index: int) -> None:
            nonlocal created
            station_id = options.station_id(index)
            async with limiter:
                body: dict[str, Any] = {"id": station_id, "password": options.password}
                if options.behaviour(index)[1].v2g:  # 2.0.1 V2G needs it (docs/V2G.md)
                    body["bidirectional"] = True
                reply = await client.post("/api/v1/stations", json=body)
                if reply.status_code == 409:
                    return  # registered by an earlier run, with the password it was given
                created += 1
                if not reply.is_success:
                    raise RegistrationError(
                        f"registering {station_id}: HTTP {reply.status_code} {reply.text[:200]}"
                    )

        async with trio.open_nursery() as nursery:
            for index in range(options.first, options.first + options.stations):
                nursery.start_soon(one, index)
    return created


Progress = Callable[[dict[str, Any]], None]


async def run_loadtest(
    options: LoadTestOptions,
    *,
    progress: Progress | None = None,
    stats: LoadStats | None = None,
    progress_interval: float = 1.0,
) -> dict[str, Any]:
    """Run the fleet and return the report (see `LoadStats.report`)."""
    stats = stats or LoadStats()
    fleet_up = trio.Event()

    def count_ready(ready: int) -> None:
        if ready >= options.stations:
            fleet_up.set()

    stats.ready_listener = count_ready
    supervisor = DynamicSupervisor(
        name="loadtest",
        intensity=RestartIntensity(max_restarts=max(100, options.stations), within=10.0),
    )
    started = 0
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        begin = trio.current_time()

        async def report_progress() -> None:
            last_messages, last_time = 0, begin
            while True:
                await trio.sleep(progress_interval)
                now, messages = trio.current_time(), stats.messages
                if progress is not None:
                    rate = (messages - last_messages) / max(now - last_time, 1e-9)
                    progress(
                        {
                            "elapsed": round(now - begin, 1),
                            "started": started,
                            "stations": options.stations,
                            "connected": stats.connected,
                            "messages": messages,
                            "per_second": round(rate, 1),
                            "errors": stats.errors,
                        }
                    )
                last_messages, last_time = messages, now

        nursery.start_soon(report_progress)
        for offset in range(options.stations):
            await trio.sleep_until(begin + offset / options.ramp)
            state = StationState(options.config(options.first + offset), stats)
            supervisor.start_child_nowait(station_spec(state))
            started += 1
        with trio.move_on_after(options.ready_timeout):
            await fleet_up.wait()
        await trio.sleep(options.duration)
        elapsed = trio.current_time() - begin
        report = stats.report(
            seconds=elapsed,
            stations=options.stations,
            scenario=options.scenario,
            ramp=options.ramp,
            duration=options.duration,
        )
        nursery.cancel_scope.cancel()  # the fleet goes down at once, as a power cut would
    return report
