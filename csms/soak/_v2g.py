"""V2G sessions during a soak (``--v2g-share``): the share's stations are OCPP 2.1 stations
with a V2X EV (the load test's ``v2g`` behaviour: it authorizes, announces its ISO 15118 needs,
follows the CSMS's setpoints, discharges). Each EV gets an owner through the REST API (a user,
the EV's id token linked to them, V2G preferences opted in), and the soak asks the node to
start a discharge on each of those stations every `interval` seconds (``POST
/api/v1/v2g/discharge/start``): refused (409) while no transaction runs or one discharge is
already active, started (201) or negotiating (202) once the EV is plugged in.

After the run `check_v2g` (``v2g_not_settled``) holds every session that was active at any
fault (its record created before the fault's recovery ended and not ended before the fault
began) to one of: still active, its station online with the session's transaction open and a
TransactionEvent of it stored after the last fault recovered (the soak runs on for
`READINGS_INTERVALS` meter intervals after it); or ended (completed, failed)
with its charging profile cleared on the station: the station no longer discharges on the
session's transaction (its TxProfile gone with the transaction, K01, or cleared or replaced by
the profile that restores charging), unless a later session discharges there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs
import httpx
import trio

from csms.storage import Connection

from ._check import StationEnd, Violation

__all__ = [
    "READINGS_INTERVALS",
    "FaultSpan",
    "SessionRow",
    "V2GDriver",
    "check_v2g",
    "judge_sessions",
]

log = logging.getLogger("csms.soak")

ACTIVE: Final = frozenset({"requested", "negotiating", "starting", "discharging", "stopping"})
POWER_KW: Final = 5.0
#: Meter intervals the soak runs on after the last fault, for the active sessions' readings.
READINGS_INTERVALS: Final = 2
MIN_SOC: Final = 20.0


@attrs.frozen
class FaultSpan:
    """A fault from its start to the end of its recovery (wall clock, seconds since the epoch)."""

    kind: str
    start: float
    end: float


class V2GDriver:
    def __init__(
        self, *, api: str, token: str, station_ids: Sequence[str], interval: float = 2.0
    ) -> None:
        self.api = api
        self.token = token
        self.station_ids = list(station_ids)
        self.interval = interval
        self.outcomes: Counter[str] = Counter()
        self.sessions: set[str] = set()
        self._asking = trio.CancelScope()
        self.done = trio.Event()

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.AsyncClient(base_url=self.api, headers=headers, timeout=60)

    async def setup(self, id_token_of: dict[str, str]) -> None:
        """Each station's EV an owner, opted in (an owner from an earlier run is kept)."""
        async with self._client() as client:
            for station in self.station_ids:
                user = f"{station}-OWNER"
                for path, body in (
                    ("/api/v1/users", {"userId": user, "name": f"Owner of {station}"}),
                    (
                        "/api/v1/id-tokens",
                        {"idToken": id_token_of[station], "type": "Central", "userId": user},
                    ),
                    (
                        "/api/v1/v2g/preferences",
                        {"userId": user, "optIn": True, "minSocPercent": MIN_SOC,
                         "maxDischargeKw": 11, "maxCyclesPerDay": 24},
                    ),
                ):  # fmt: skip
                    reply = await client.post(path, json=body)
                    if not reply.is_success and reply.status_code != 409:
                        raise RuntimeError(f"{path}: HTTP {reply.status_code} {reply.text[:200]}")

    def stop(self) -> None:
        self._asking.cancel()

    async def run(self) -> None:
        """Ask for discharges until `stop`, then wait for the answers still owed."""
        try:
            if self.station_ids:
                async with self._client() as client, trio.open_nursery() as nursery:
                    with self._asking:
                        while True:
                            for station in self.station_ids:
                                nursery.start_soon(self._start, client, station)
                            await trio.sleep(self.interval)  # an operator's pace
        finally:
            self.done.set()

    async def _start(self, client: httpx.AsyncClient, station: str) -> None:
        body = {"stationId": station, "powerKw": POWER_KW}
        try:
            reply = await client.post("/api/v1/v2g/discharge/start", json=body)
        except httpx.TransportError:
            self.outcomes["unreachable"] += 1
            return
        if reply.status_code in (201, 202):
            self.outcomes["started" if reply.status_code == 201 else "negotiating"] += 1
            session = reply.json().get("sessionId") or reply.json().get("id")
            if session:
                self.sessions.add(str(session))
        elif reply.status_code == 409:
            code = _code(reply)
            self.outcomes[f"refused:{code}"] += 1
        else:
            self.outcomes[f"http_{reply.status_code}"] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "stations": len(self.station_ids),
            "sessions_started": len(self.sessions),
            "answers": dict(sorted(self.outcomes.items())),
        }


def _code(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return "?"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "?")) if isinstance(error, dict) else "?"


def check_v2g(
    conn: Connection,
    faults: Sequence[FaultSpan],
    stations: Iterable[StationEnd],
    readings_since: float,
) -> tuple[list[Violation], int]:
    """``v2g_not_settled`` violations, and how many sessions were active at a fault; an active
    session's readings flow when a TransactionEvent of it was stored from ``readings_since``
    on (after the last fault's recovery, `READINGS_INTERVALS` meter intervals before the end)."""
    ends = {e.station_id: e for e in stations}
    if not faults or not ends:
        return [], 0
    rows = conn.execute(
        "SELECT s.id::text, s.station_id, s.transaction_id, s.state, s.profile_id, s.created_at,"
        " s.ended_at, (SELECT max(e.timestamp) FROM transaction_events e"
        "  WHERE e.station_id = s.station_id AND e.transaction_id = s.transaction_id)"
        " FROM v2g_sessions s WHERE s.station_id = ANY(%s) ORDER BY s.created_at",
        (sorted(ends),),
    ).fetchall()
    return judge_sessions([SessionRow(*r) for r in rows], faults, ends, readings_since)


@attrs.frozen
class SessionRow:
    """A V2G session as the check reads it, with its transaction's last event's instant."""

    session_id: str
    station_id: str
    transaction_id: str | None
    state: str
    profile_id: int | None
    created_at: dt.datetime
    ended_at: dt.datetime | None
    last_event_at: dt.datetime | None


def judge_sessions(
    rows: Sequence[SessionRow],
    faults: Sequence[FaultSpan],
    ends: dict[str, StationEnd],
    readings_since: float,
) -> tuple[list[Violation], int]:
    """The check itself, on the rows read (see `check_v2g`)."""
    # a transaction an active session discharges on rightly discharges, whichever ended before
    held = {(r.station_id, r.transaction_id) for r in rows if r.state in ACTIVE}
    last = _at(readings_since)
    violations: list[Violation] = []
    affected = 0
    for row in rows:
        sid, station, tx, state, profile, created, ended, last_event = attrs.astuple(row)
        hit = [f.kind for f in faults if _overlaps(f, created, ended)]
        if not hit:
            continue
        affected += 1
        end = ends[station]
        where = f"session {sid} transaction {tx} state {state} (active at {', '.join(hit)})"
        if state in ACTIVE:
            problems = []
            if not end.online:
                problems.append("its station is not online")
            if tx not in end.transactions:
                problems.append("its transaction is not open on the station")
            if last_event is None or last_event < last:
                problems.append(f"no TransactionEvent since {last.isoformat()} ({last_event})")
            if problems:
                violations.append(
                    Violation("v2g_not_settled", station, f"{where}: {'; '.join(problems)}")
                )
        elif tx in end.discharging and (station, tx) not in held:
            violations.append(
                Violation(
                    "v2g_not_settled",
                    station,
                    f"{where}: ended, the station still discharges on its transaction under"
                    f" charging profile {profile}",
                )
            )
    return violations, affected


def _overlaps(fault: FaultSpan, created: dt.datetime, ended: dt.datetime | None) -> bool:
    return created <= _at(fault.end) and (ended is None or ended >= _at(fault.start))


def _at(wall: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(wall, dt.UTC)
