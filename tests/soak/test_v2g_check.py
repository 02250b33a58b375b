"""The V2G half of the soak's check (``v2g_not_settled``) on crafted sessions and station ends:
a session active at a fault must either still run (its station online, its transaction open,
readings stored since the last fault) or have ended with the station no longer discharging on
its transaction; each violation names the session. Sessions not active at any fault are not
looked at."""

from __future__ import annotations

import datetime as dt

from csms.soak import StationEnd
from csms.soak._v2g import FaultSpan, SessionRow, judge_sessions

T0 = 1_800_000_000.0
FAULTS = [FaultSpan("kill", T0 + 10, T0 + 20), FaultSpan("pg-stop", T0 + 40, T0 + 50)]
READINGS_SINCE = T0 + 60


def at(offset: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + offset, dt.UTC)


def session(sid: str, station: str, tx: str, state: str, created: float, **kw) -> SessionRow:
    ended = kw.get("ended")
    return SessionRow(
        sid,
        station,
        tx,
        state,
        1400001,
        at(created),
        None if ended is None else at(ended),
        at(kw.get("last_event", 65)),
    )


def test_settled_sessions_pass_and_each_unsettled_one_is_named():
    ends = {
        "RUNS": StationEnd("RUNS", True, 1, ("T-run",), ("T-run",)),
        "ENDED": StationEnd("ENDED", True, 1, ("T-next",), ()),
        "OFFLINE": StationEnd("OFFLINE", False, 2, ("T-off",), ()),
        "STALE": StationEnd("STALE", True, 1, ("T-stale",), ()),
        "STILL": StationEnd("STILL", True, 1, ("T-still",), ("T-still",)),
        "LATER": StationEnd("LATER", True, 1, ("T-later",), ("T-later",)),
    }
    rows = [
        session("s-runs", "RUNS", "T-run", "discharging", 5),  # runs on: fine
        session("s-ended", "ENDED", "T-old", "completed", 5, ended=30),  # over and cleared: fine
        session(
            "s-quiet", "STALE", "T-x", "completed", 25, ended=35
        ),  # between faults: not looked at
        session("s-offline", "OFFLINE", "T-off", "discharging", 45),
        session("s-stale", "STALE", "T-stale", "discharging", 15, last_event=55),
        session("s-still", "STILL", "T-still", "failed", 5, ended=45),
        # ended, but a later session discharges on the same transaction: rightly discharging
        session("s-before", "LATER", "T-later", "completed", 5, ended=12),
        session("s-after", "LATER", "T-later", "discharging", 13),
    ]
    violations, affected = judge_sessions(rows, FAULTS, ends, READINGS_SINCE)
    assert affected == 7
    assert [(v.kind, v.station_id) for v in violations] == [
        ("v2g_not_settled", "OFFLINE"),
        ("v2g_not_settled", "STALE"),
        ("v2g_not_settled", "STILL"),
    ]
    offline, stale, still = (v.detail for v in violations)
    assert offline.startswith(
        "session s-offline transaction T-off state discharging (active at pg-stop)"
    )
    assert offline.endswith(": its station is not online")
    assert "session s-stale" in stale
    assert "(active at kill, pg-stop)" in stale
    assert "no TransactionEvent since" in stale
    assert still == (
        "session s-still transaction T-still state failed (active at kill, pg-stop): ended,"
        " the station still discharges on its transaction under charging profile 1400001"
    )


def test_a_run_without_faults_has_nothing_to_judge():
    rows = [session("s", "RUNS", "T", "discharging", 5, last_event=0)]
    ends = {"RUNS": StationEnd("RUNS", False, 1)}
    assert judge_sessions(rows, [], ends, READINGS_SINCE) == ([], 0)
