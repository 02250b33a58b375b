"""Commands asked during a soak (``--commands-per-s``): the soak is an operator calling the
node's REST API while the faults happen, so that the command checks have real material.

At the given mean rate (exponential gaps, seeded), a random station of the fleet is sent one of
TriggerMessage Heartbeat (``POST devices/{id}/trigger/Heartbeat``), ClearCache (the generic
``POST devices/{id}/ocpp/ClearCache``) or GetVariables (``GET devices/{id}/variables``). Every
answer is recorded (`AskedCommand`): answered (200) or station_error (502: the station answered
with a CALLERROR, so it did receive it) carry the command id the audit row has; refused (404,
409, 422, 503), timed_out (504: the node told us it gave up), client_timeout (we gave up first)
and unreachable (no HTTP answer: the node was down or died with the request) do not promise a
delivery. The check (`check_answered`) then holds every answered command to exactly one
reception by its station.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import attrs
import httpx
import trio

__all__ = ["KINDS", "OUTCOMES", "AskedCommand", "CommandAsker"]

log = logging.getLogger("csms.soak")

#: (action, HTTP method, path below devices/{id}, query, body)
KINDS: Final[tuple[tuple[str, str, str, dict[str, str] | None, dict[str, Any] | None], ...]] = (
    ("TriggerMessage", "POST", "/trigger/Heartbeat", None, None),
    ("ClearCache", "POST", "/ocpp/ClearCache", None, {}),
    ("GetVariables", "GET", "/variables", {"component": "OCPPCommCtrlr",
                                           "variable": "RetryBackOffWaitMinimum"}, None),
)  # fmt: skip
OUTCOMES: Final = (
    "answered",
    "station_error",
    "refused",
    "timed_out",
    "client_timeout",
    "unreachable",
    "skipped",
)
#: Commands a station must have received: the REST API relayed the station's own answer.
DELIVERED_OUTCOMES: Final = frozenset({"answered", "station_error"})
_REFUSED: Final = frozenset({400, 404, 409, 422, 503})
#: Requests in flight at most; a tick beyond is counted ``skipped`` (the node is stalled).
MAX_IN_FLIGHT: Final = 256


@attrs.frozen
class AskedCommand:
    station_id: str
    action: str
    outcome: str  # one of OUTCOMES
    http_status: int | None
    command_id: str | None  # the node's audit id, when its answer named one
    asked_at: float  # wall clock, seconds since the epoch

    @property
    def delivered(self) -> bool:
        """The REST API answered with the station's answer: it received the CALL."""
        return self.outcome in DELIVERED_OUTCOMES and self.command_id is not None


def outcome_of(status: int) -> str:
    if status == 200:
        return "answered"
    if status == 502:
        return "station_error"
    if status == 504:
        return "timed_out"
    return "refused" if status in _REFUSED or 400 <= status < 500 else "unreachable"


def command_id_of(response: httpx.Response) -> str | None:
    header = response.headers.get("X-Command-Id")
    if header:
        return str(header)
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        value = body.get("commandId", body.get("command_id"))
        return str(value) if value else None
    return None


class CommandAsker:
    def __init__(
        self,
        *,
        api: str,
        token: str,
        station_ids: Sequence[str],
        per_second: float,
        seed: int = 0,
        timeout: float = 90.0,  # beyond the node's response timeout and queue allowance
    ) -> None:
        self.api = api
        self.token = token
        self.station_ids = list(station_ids)
        self.per_second = per_second
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.asked: list[AskedCommand] = []
        self.in_flight = 0
        self._asking = trio.CancelScope()
        self.done = trio.Event()

    def stop(self) -> None:
        """Ask no more; `done` is set once every request in flight has its answer."""
        self._asking.cancel()

    async def run(self) -> None:
        """Ask until `stop`, then wait for the answers still owed."""
        try:
            if self.per_second > 0 and self.station_ids:
                await self._ask()
        finally:
            self.done.set()

    async def _ask(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            httpx.AsyncClient(base_url=self.api, headers=headers, timeout=self.timeout) as client,
            trio.open_nursery() as nursery,
        ):
            due = trio.current_time()
            with self._asking:
                while True:
                    due += self.rng.expovariate(self.per_second)
                    await trio.sleep_until(due)  # the schedule of an operator, not a wait
                    station = self.rng.choice(self.station_ids)
                    kind = self.rng.choice(KINDS)
                    if self.in_flight >= MAX_IN_FLIGHT:
                        self._record(station, kind[0], "skipped", None, None, time.time())
                        continue
                    self.in_flight += 1
                    nursery.start_soon(self._one, client, station, kind)

    async def _one(self, client: httpx.AsyncClient, station: str, kind: Any) -> None:
        action, method, path, query, body = kind
        at = time.time()
        try:
            reply = await client.request(
                method, f"/api/v1/devices/{station}{path}", params=query, json=body
            )
        except httpx.TimeoutException:
            self._record(station, action, "client_timeout", None, None, at)
        except httpx.TransportError:
            self._record(station, action, "unreachable", None, None, at)
        else:
            status = reply.status_code
            self._record(station, action, outcome_of(status), status, command_id_of(reply), at)
        finally:
            self.in_flight -= 1

    def _record(
        self, station: str, action: str, outcome: str, code: int | None, cid: str | None, at: float
    ) -> None:
        self.asked.append(AskedCommand(station, action, outcome, code, cid, at))

    def summary(self) -> dict[str, Any]:
        return summarize(self.asked)


def summarize(asked: Sequence[AskedCommand]) -> dict[str, Any]:
    """Counts by outcome and by action (the report's ``commands``)."""
    outcomes = Counter(a.outcome for a in asked)
    return {
        "asked": sum(n for o, n in outcomes.items() if o != "skipped"),
        **{o: outcomes.get(o, 0) for o in OUTCOMES},
        "by_action": dict(Counter(a.action for a in asked)),
    }
