"""The ledger's command half: what the stations received from the CSMS against the node's command
audit (``commands``, see ``csms/storage/commands.py``).

A command is delivered twice when a station received the same CALL message id more than once.
It is delivered after its asker gave up when the audit row with that message id ended as
``timeout``, ``abandoned`` or ``failed`` (the asker was told so) at an instant (the give-up)
and the CSMS sent it after that instant, or the station received it on a connection opened
after it. What the CSMS controls is judged, not when the station got round to reading: a CALL
sent while the connection was open and read by a busy station from its socket's buffer after
the node dropped the connection (keepalive) came before the give-up. A ledger without the
connection's instant (written before it was recorded) is judged by the receipt instant.
Each violation names the station, the message id, the action and the instants compared.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from csms.simulator._ledger import Delivered
from csms.storage import Connection

from ._asker import AskedCommand
from ._check import Violation

__all__ = ["GAVE_UP", "check_answered", "check_commands"]

#: Audit statuses that tell the asker the command did not happen.
GAVE_UP = frozenset({"timeout", "abandoned", "failed"})


def check_commands(conn: Connection, deliveries: Sequence[Delivered]) -> list[Violation]:
    violations: list[Violation] = []
    seen = Counter((d.station_id, d.message_id) for d in deliveries)
    first: dict[tuple[str, str], Delivered] = {}
    for d in deliveries:
        first.setdefault((d.station_id, d.message_id), d)
    for (station, message_id), times in sorted(seen.items()):
        if times > 1:
            action = first[station, message_id].action
            violations.append(
                Violation(
                    "command_delivered_twice",
                    station,
                    f"{action} messageId={message_id} received {times} times",
                )
            )
    ids = sorted({d.message_id for d in deliveries})
    rows = conn.execute(
        "SELECT station_id, message_id, id, status, sent_at, completed_at FROM commands"
        " WHERE message_id = ANY(%s) AND status = ANY(%s) AND completed_at IS NOT NULL",
        (ids, sorted(GAVE_UP)),
    ).fetchall()
    gave_up = {(s, m): (cid, status, sent, done) for s, m, cid, status, sent, done in rows}
    for d in deliveries:
        row = gave_up.get((d.station_id, d.message_id))
        if row is None:
            continue
        command_id, status, sent_at, completed_at = row
        late = _late(d, sent_at, completed_at)
        if late is not None:
            violations.append(
                Violation(
                    "command_after_give_up",
                    d.station_id,
                    f"{d.action} messageId={d.message_id} (command {command_id}) {late},"
                    f" its asker told {status} at {completed_at.isoformat()}",
                )
            )
    return violations


def _late(d: Delivered, sent_at: dt.datetime | None, gave_up: dt.datetime) -> str | None:
    """What came after the give-up instant, or None: the CSMS's send, else the connection the
    station received the CALL on (else, in an old ledger, the receipt)."""
    if sent_at is not None and sent_at > gave_up:
        return f"sent at {sent_at.isoformat()}"
    if d.connection_opened_at is not None:
        opened = dt.datetime.fromtimestamp(d.connection_opened_at, dt.UTC)
        if opened <= gave_up:
            return None
        return f"received on a connection opened at {opened.isoformat()}"
    received = dt.datetime.fromtimestamp(d.received_at, dt.UTC)
    return f"received at {received.isoformat()}" if received > gave_up else None


def check_answered(
    conn: Connection, asked: Sequence[AskedCommand], deliveries: Sequence[Delivered]
) -> tuple[list[Violation], int]:
    """Every command the REST API answered with the station's answer (`AskedCommand.delivered`)
    was received by its station exactly once: by the audit row's message id where the row is
    stored, else (the audit is written after the answer, so a SIGKILL can take it) by count:
    a station received at least as many distinct CALLs of that action, not those of audited
    commands, as were answered without a row.
    Returns the violations and how many answered commands had no audit row."""
    answered = [a for a in asked if a.delivered]
    rows = conn.execute(
        "SELECT id::text, station_id, message_id FROM commands WHERE id::text = ANY(%s)",
        (sorted({a.command_id for a in answered if a.command_id is not None}),),
    ).fetchall()
    audited = {cid: (station, mid) for cid, station, mid in rows}
    received = Counter((d.station_id, d.message_id) for d in deliveries)
    actions = {(d.station_id, d.message_id): d.action for d in deliveries}
    violations: list[Violation] = []
    unaudited: Counter[tuple[str, str]] = Counter()
    for a in answered:
        row = audited.get(str(a.command_id))
        if row is None or row[1] is None:
            unaudited[a.station_id, a.action] += 1
            continue
        times = received[a.station_id, row[1]]
        if row[0] != a.station_id or times != 1:
            violations.append(
                Violation(
                    "answered_not_received_once",
                    a.station_id,
                    f"{a.action} command {a.command_id} messageId={row[1]} answered"
                    f" {a.http_status} by the REST API, received {times} times",
                )
            )
    claimed = {(station, mid) for station, mid in audited.values()}
    free: Counter[tuple[str, str]] = Counter()  # distinct CALLs no audited command explains
    for station, mid in received:
        if (station, mid) not in claimed:
            free[station, actions[station, mid]] += 1
    for (station, action), n in sorted(unaudited.items()):
        if free[station, action] < n:
            violations.append(
                Violation(
                    "answered_not_received_once",
                    station,
                    f"{n} {action} answered by the REST API without an audit row,"
                    f" {free[station, action]} other distinct received",
                )
            )
    return violations, sum(unaudited.values())
