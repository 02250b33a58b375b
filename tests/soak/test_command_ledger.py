"""The ledger's command half: no command delivered twice or after its asker gave up.
What the stations recorded receiving is compared with the node's command audit (`commands`) in
PostgreSQL; hand-made deliveries of a duplicate and of a late command are caught with their
exact records, a clean set is not."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import trio

from csms.actors.station import SendCommand
from csms.domain.records import CommandAudit
from csms.simulator._ledger import Ledger
from csms.simulator._loadtest import LoadTestOptions
from csms.soak import Fleet, check_ledger
from csms.soak._asker import AskedCommand
from csms.storage import connect
from csms.storage._sql import UPSERT_COMMAND, command_params

from ..simulator.conftest import PASSWORD, register, running_node

STATION = "CMDLEDGER1"


def audit(
    database_url: str,
    message_id: str,
    status: str,
    completed: dt.datetime,
    sent: dt.datetime | None = None,
) -> str:
    command_id = str(uuid.uuid4())
    row = CommandAudit(
        command_id=command_id,
        station_id=STATION,
        action="Reset",
        requested_by="operator",
        payload={"type": "Immediate"},
        status=status,
        requested_at=completed - dt.timedelta(seconds=30),
        message_id=message_id,
        sent_at=completed - dt.timedelta(seconds=30) if sent is None else sent,
        completed_at=completed,
    )
    with connect(database_url) as conn:
        conn.execute(UPSERT_COMMAND, command_params(row))
        conn.commit()
    return command_id


def test_a_command_received_twice_or_after_its_asker_gave_up_is_named(database_url):
    register(database_url, STATION)
    now = dt.datetime.now(dt.UTC)
    audit(database_url, "m-answered", "responded", now - dt.timedelta(minutes=1))
    late = audit(database_url, "m-timed-out", "timeout", now - dt.timedelta(minutes=1))
    audit(database_url, "m-still-waiting", "timeout", now + dt.timedelta(hours=1))
    ledger = Ledger()
    ledger.delivered(STATION, "m-answered", "Reset")
    ledger.delivered(STATION, "m-still-waiting", "Reset")  # received before its timeout
    clean = check_ledger(database_url, [], [], [], ledger.deliveries)
    assert clean.ok, clean.violations
    assert clean.commands_delivered == 2

    ledger.delivered(STATION, "m-answered", "Reset")  # the same CALL a second time
    ledger.delivered(STATION, "m-timed-out", "Reset")  # its asker was told "timeout" before
    check = check_ledger(database_url, [], [], [], ledger.deliveries)
    assert [(v.kind, v.station_id) for v in check.violations] == [
        ("command_delivered_twice", STATION),
        ("command_after_give_up", STATION),
    ]
    twice, after = check.violations
    assert twice.detail == "Reset messageId=m-answered received 2 times"
    assert after.detail.startswith(f"Reset messageId=m-timed-out (command {late}) received at")
    assert "its asker told timeout at" in after.detail
    assert check.dump()["violations_by_kind"] == {
        "command_delivered_twice": 1,
        "command_after_give_up": 1,
    }


def test_a_command_after_its_give_up_is_judged_by_its_send_and_its_connection(database_url):
    """The soak's benign case: the CSMS sent the CALL on an open connection, its keepalive
    dropped the connection and the asker was told "failed", then the busy station read the
    CALL from its buffer. Not a late delivery. One received on a connection opened after the
    give-up, or sent after it, is."""
    register(database_url, STATION)
    gave_up = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    before, after = (gave_up + dt.timedelta(seconds=s) for s in (-9, 5))
    audit(database_url, "m-read-late", "failed", gave_up)
    reconnected = audit(database_url, "m-new-connection", "failed", gave_up)
    resent = audit(database_url, "m-sent-late", "timeout", gave_up, sent=after)
    ledger = Ledger()
    ledger.delivered(STATION, "m-read-late", "ClearCache", before.timestamp())
    clean = check_ledger(database_url, [], [], [], ledger.deliveries)
    assert clean.ok, clean.violations

    ledger.delivered(STATION, "m-new-connection", "Reset", after.timestamp())
    ledger.delivered(STATION, "m-sent-late", "Reset", before.timestamp())
    check = check_ledger(database_url, [], [], [], ledger.deliveries)
    told = f"its asker told {{}} at {gave_up.isoformat()}"
    assert [(v.kind, v.detail) for v in check.violations] == [
        (
            "command_after_give_up",
            f"Reset messageId=m-new-connection (command {reconnected}) received on a"
            f" connection opened at {after.isoformat()}, " + told.format("failed"),
        ),
        (
            "command_after_give_up",
            f"Reset messageId=m-sent-late (command {resent}) sent at {after.isoformat()}, "
            + told.format("timeout"),
        ),
    ]


async def test_a_fleet_records_the_commands_it_received_with_the_audits_message_id(
    database_url,
):
    """A real node sends a command to a soak fleet's station: the station records the CALL's
    message id, the same the audit row holds, and the check finds nothing wrong."""
    register(database_url, "CMDFLEET000000")
    async with running_node(database_url) as node:
        fleet = Fleet(
            LoadTestOptions(
                server=f"ws://127.0.0.1:{node.ocpp_port}/ocpp",
                password=PASSWORD,
                stations=1,
                scenario="heartbeat",
                id_prefix="CMDFLEET",
            )
        )
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                await nursery.start(fleet.run)
                await fleet.all_online()
                ref = node.stations.registry.lookup("CMDFLEET000000")
                assert ref is not None
                payload = {"requestedMessage": "Heartbeat"}
                await ref.ask(SendCommand("TriggerMessage", payload), timeout=15)
                nursery.cancel_scope.cancel()
    [delivered] = fleet.deliveries()
    assert delivered.connection_opened_at is not None
    assert delivered.connection_opened_at <= delivered.received_at
    with connect(database_url) as conn:
        [(message_id, status)] = conn.execute(
            "SELECT message_id, status FROM commands WHERE station_id = 'CMDFLEET000000'"
        ).fetchall()
    assert (delivered.action, delivered.message_id, status) == (
        "TriggerMessage",
        message_id,
        "responded",
    )
    check = check_ledger(database_url, [], [], fleet.ends(), fleet.deliveries())
    assert [v.kind for v in check.violations] == []
    assert check.commands_delivered == 1


def test_a_command_the_rest_api_answered_must_be_received_exactly_once(database_url):
    """The soak's commands (asked through the REST API): one answered and received once is
    fine; one answered but never received, one received twice, and answered commands without
    an audit row beyond what the station received are each named."""
    register(database_url, STATION)
    now = dt.datetime.now(dt.UTC)
    once = audit(database_url, "m-once", "responded", now)
    never = audit(database_url, "m-never", "responded", now)
    twice = audit(database_url, "m-twice", "responded", now)
    ledger = Ledger()
    for message_id in ("m-once", "m-twice", "m-twice", "m-unaudited"):
        ledger.delivered(STATION, message_id, "Reset")

    def asked(command_id: str | None, outcome: str = "answered") -> AskedCommand:
        return AskedCommand(STATION, "Reset", outcome, 200, command_id, time.time())

    clean = [asked(once), asked(str(uuid.uuid4())), asked(None, "timed_out")]
    check = check_ledger(database_url, [], [], [], ledger.deliveries[::3], clean)
    assert check.ok, check.violations
    assert (check.commands_answered, check.commands_unaudited) == (2, 1)

    planted = [*clean, asked(never), asked(twice), asked(str(uuid.uuid4()))]
    check = check_ledger(database_url, [], [], [], ledger.deliveries, planted)
    answered = [v.detail for v in check.violations if v.kind == "answered_not_received_once"]
    assert answered == [
        f"Reset command {never} messageId=m-never answered 200 by the REST API, received 0 times",
        f"Reset command {twice} messageId=m-twice answered 200 by the REST API, received 2 times",
        "2 Reset answered by the REST API without an audit row, 1 other distinct received",
    ]
