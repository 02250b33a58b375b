"""Station actors over an in-memory link, with real persistence and PostgreSQL behind them.

The far end speaks through ``csms.protocol``'s client role with outbound validation on, and the
station actor validates what it sends too, so every message here is schema-valid both ways.
"""

from __future__ import annotations

import datetime as dt

import pytest
import trio
import trio.testing

from csms.actors.station import (
    HANDLERS,
    CommandResult,
    Disconnect,
    GetSnapshot,
    InvalidCommand,
    SendCommand,
    StationCallError,
    StationDisconnected,
    StationTimeout,
)
from csms.protocol import CallError, CallErrorReceived, ErrorCode, Version, v201
from csms.storage import connect, tokens

from .station_peer import running_node

T = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def tx_event(
    seq_no: int, event_type: str, *, energy: float = 0, **extra
) -> v201.TransactionEventRequest:
    return v201.TransactionEventRequest(
        event_type=v201.TransactionEventEnum(event_type),
        timestamp=T + dt.timedelta(minutes=seq_no),
        trigger_reason=v201.TriggerReasonEnum.METER_VALUE_PERIODIC
        if event_type == "Updated"
        else v201.TriggerReasonEnum.CABLE_PLUGGED_IN,
        seq_no=seq_no,
        transaction_info=v201.Transaction(transaction_id="tx-42"),
        evse=v201.EVSE(id=1, connector_id=1),
        meter_value=(
            v201.MeterValue(
                timestamp=T + dt.timedelta(minutes=seq_no),
                sampled_value=(
                    v201.SampledValue(
                        value=energy,
                        unit_of_measure=v201.UnitOfMeasure(unit="kWh", multiplier=3),
                    ),
                    v201.SampledValue(value=7.2, measurand=v201.MeasurandEnum.POWER_ACTIVE_IMPORT),
                ),
            ),
        ),
        **extra,
    )


async def test_tc_b_01_cold_boot_accepted_then_heartbeat_and_status(database_url):
    """TC_B_01_CSMS / B01.FR.02: a registered station boots and is Accepted with the heartbeat
    interval; Heartbeat answers the current time; StatusNotification is stored."""
    async with running_node(database_url, heartbeat_interval=120) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        booted = await cp.boot()
        assert booted.status == v201.RegistrationStatusEnum.ACCEPTED
        assert booted.interval == 120
        beat = await cp.call(v201.HeartbeatRequest())
        assert beat.current_time.tzinfo is not None
        await cp.call(
            v201.StatusNotificationRequest(
                timestamp=T,
                connector_status=v201.ConnectorStatusEnum.AVAILABLE,
                evse_id=1,
                connector_id=1,
            )
        )
        snapshot = await ref.ask(GetSnapshot(), timeout=5)
        assert snapshot.registration_status == "Accepted"
        assert snapshot.connectors == {"1/1": "Available"}
        assert snapshot.boot.vendor_name == "Acme"
        await cp.call(tx_event(0, "Started"))  # durable: everything before it is stored too
        assert node.query("SELECT vendor_name, model FROM stations") == [("Acme", "Wallbox")]
        assert node.query("SELECT status FROM evses") == [("Available",)]


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
async def test_tc_b_30_boot_pending_or_rejected_blocks_other_messages(database_url, status):
    """B02/B03 (TC_B_30_CSMS): the registration status is answered; until Accepted any other
    message gets SecurityError (B02.FR.09, B03.FR.07)."""
    async with running_node(database_url) as node:
        node.register("CP1", status=status)
        _, cp = await node.connect("CP1")
        booted = await cp.boot()
        assert booted.status == v201.RegistrationStatusEnum(status)
        answer = await cp.call(v201.HeartbeatRequest())
        assert isinstance(answer, CallErrorReceived)
        assert answer.code == ErrorCode.SECURITY_ERROR


async def test_the_first_boot_is_decided_by_the_status_read_at_connect_a_later_one_reads_again(
    database_url,
):
    """B01/B02: the listener read the station's row for its credentials moments before; the
    first BootNotification is answered from that read (no second one per station in a reconnect
    storm). A later boot on the same connection reads the row again: the operator may have
    changed the registration meanwhile (here to Rejected) and triggered the boot."""
    async with running_node(database_url) as node:
        node.register("CP1", status="Rejected")  # as the operator left it after the connect
        _, cp = await node.connect("CP1", registration_status="Accepted")
        booted = await cp.boot()
        assert booted.status == v201.RegistrationStatusEnum.ACCEPTED
        again = await cp.boot()
        assert again.status == v201.RegistrationStatusEnum.REJECTED


async def test_messages_before_boot_get_security_error(database_url):
    """B01.FR.08: nothing but BootNotification before the station was accepted."""
    async with running_node(database_url) as node:
        node.register("CP1")
        _, cp = await node.connect("CP1")
        answer = await cp.call(v201.HeartbeatRequest())
        assert isinstance(answer, CallErrorReceived)
        assert answer.code == ErrorCode.SECURITY_ERROR


async def test_tc_c_02_c_07_authorize_known_unknown_and_expired_tokens(database_url):
    """TC_C_02_CSMS (unknown: Invalid), TC_C_07_CSMS (expired: Expired), C01.FR.07 (accepted,
    with its group)."""
    async with running_node(database_url) as node:
        node.register("CP1")
        with connect(database_url) as conn:
            tokens.upsert_id_token(conn, "TAG1", "ISO14443", status="Accepted", group_id="FLEET")
            tokens.upsert_id_token(
                conn, "OLD", "ISO14443", status="Accepted", expires_at=T - dt.timedelta(days=1)
            )
            conn.commit()
        _, cp = await node.connect("CP1")
        await cp.boot()

        async def status_of(token: str) -> v201.IdTokenInfo:
            answer = await cp.call(
                v201.AuthorizeRequest(
                    id_token=v201.IdToken(id_token=token, type=v201.IdTokenEnum.ISO14443)
                )
            )
            return answer.id_token_info

        accepted = await status_of("TAG1")
        assert accepted.status == v201.AuthorizationStatusEnum.ACCEPTED
        assert accepted.group_id_token.id_token == "FLEET"
        assert (await status_of("NOPE")).status == v201.AuthorizationStatusEnum.INVALID
        assert (await status_of("OLD")).status == v201.AuthorizationStatusEnum.EXPIRED


async def test_tc_e_transaction_is_stored_before_it_is_acknowledged_and_once_only(database_url):
    """E01-E06 (TC_E_01/TC_E_07 flows): Started, Updated and Ended are committed with their
    meter values (kWh scaled to Wh) before the response; a retried event is acknowledged again
    but stored once."""
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        await cp.call(tx_event(0, "Started", energy=0))
        rows = node.query("SELECT event_type, seq_no FROM transaction_events")
        assert rows == [("Started", 0)]  # committed before the response reached us
        await cp.call(tx_event(1, "Updated", energy=1.5))
        await cp.call(tx_event(1, "Updated", energy=1.5))  # the station retries: same seqNo
        live = (await ref.ask(GetSnapshot(), timeout=5)).transactions
        assert [t.transaction_id for t in live] == ["tx-42"]
        assert live[0].energy_import_wh == 1500
        await cp.call(tx_event(2, "Ended", energy=3.0))
        assert node.query("SELECT seq_no FROM transaction_events ORDER BY seq_no") == [
            (0,),
            (1,),
            (2,),
        ]
        energy = node.query(
            "SELECT value FROM meter_values WHERE measurand = 'Energy.Active.Import.Register'"
            " ORDER BY timestamp"
        )
        assert [float(v) for (v,) in energy] == [0, 1500, 3000]
        assert (await ref.ask(GetSnapshot(), timeout=5)).transactions == ()


async def test_meter_values_are_stored_before_the_response(database_url):
    async with running_node(database_url) as node:
        node.register("CP1")
        _, cp = await node.connect("CP1")
        await cp.boot()
        request = tx_event(0, "Updated", energy=2)
        await cp.call(v201.MeterValuesRequest(evse_id=1, meter_value=request.meter_value))
        assert node.query("SELECT count(*) FROM meter_values") == [(2,)]


async def test_command_round_trip_is_audited_and_published(database_url):
    """A command reaches the station, its answer comes back, and the audit and events say so."""
    async with running_node(database_url) as node:
        node.register("CP1")
        events = node.events.subscribe("ocpp.command.")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        result: list[CommandResult] = []

        async def operator() -> None:
            result.append(
                await ref.ask(
                    SendCommand("Reset", {"type": "Immediate"}, requested_by="alice"), timeout=10
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(operator)
            call = await cp.next_call()
            assert call.action == "Reset"
            assert call.raw == {"type": "Immediate"}
            await cp.answer(call, v201.ResetResponse(status=v201.ResetStatusEnum.ACCEPTED))
        assert result[0].response == {"status": "Accepted"}
        sent, answered = events.receive.receive_nowait(), events.receive.receive_nowait()
        assert (sent.subject, answered.subject) == ("ocpp.command.sent", "ocpp.command.response")
        await cp.call(tx_event(0, "Started"))  # a durable write: the audit is stored by now
        assert node.query("SELECT action, status, requested_by, response FROM commands") == [
            ("Reset", "responded", "alice", {"status": "Accepted"})
        ]


@pytest.mark.parametrize(("sent_after", "while_outstanding"), [(0.0, [("sent",)]), (60.0, [])])
async def test_a_command_is_on_record_as_sent_only_once_it_is_slow(
    database_url, sent_after, while_outstanding
):
    """The audit row of a quick command is written once, with its answer; a command still
    outstanding after ``audit_sent_after`` is on record as sent while the station thinks."""
    async with running_node(database_url, audit_sent_after=sent_after) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: ref.ask(SendCommand("ClearCache", {}), timeout=10))
            call = await cp.next_call()
            # the command's task has done what it does on sending (it now waits for the answer)
            await trio.testing.wait_all_tasks_blocked()
            await cp.call(tx_event(0, "Started"))  # a durable write: earlier records are stored
            assert node.query("SELECT status FROM commands") == while_outstanding
            await cp.answer(
                call, v201.ClearCacheResponse(status=v201.ClearCacheStatusEnum.ACCEPTED)
            )
        await cp.call(tx_event(1, "Updated"))
        assert node.query("SELECT status, sent_at IS NOT NULL FROM commands") == [
            ("responded", True)
        ]


async def test_one_outstanding_command_others_wait_in_the_mailbox(database_url):
    """Part 4 4.1.1: the second command is sent only after the first was answered."""
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        done: list[str] = []

        async def send(action: str, payload: dict) -> None:
            result = await ref.ask(SendCommand(action, payload), timeout=10)
            done.append(result.action)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, "ClearCache", {})
            first = await cp.next_call()
            nursery.start_soon(send, "GetLocalListVersion", {})
            await trio.testing.wait_all_tasks_blocked()
            assert cp.inbox == []  # nothing else was sent while the first is outstanding
            await cp.answer(
                first, v201.ClearCacheResponse(status=v201.ClearCacheStatusEnum.ACCEPTED)
            )
            second = await cp.next_call()
            assert second.action == "GetLocalListVersion"
            await cp.answer(second, v201.GetLocalListVersionResponse(version_number=3))
        assert done == ["ClearCache", "GetLocalListVersion"]


async def test_command_timeout_and_late_answer_is_dropped(database_url):
    """A command that is not answered in time fails with StationTimeout; the answer that comes
    later is dropped (never matched to a later command) and the next command works."""
    async with running_node(database_url, response_timeout=0.2) as node:
        node.register("CP1")
        timeouts = node.events.subscribe("ocpp.command.timeout")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        async with trio.open_nursery() as nursery:

            async def slow_station() -> None:
                call = await cp.next_call()
                await timeouts.receive.receive()  # answer only after the CSMS gave up
                late = v201.ClearCacheResponse(status=v201.ClearCacheStatusEnum.ACCEPTED)
                await cp.answer(call, late)

            nursery.start_soon(slow_station)
            with pytest.raises(StationTimeout):
                await ref.ask(SendCommand("ClearCache", {}), timeout=30)
        async with trio.open_nursery() as nursery:

            async def answer_next() -> None:
                call = await cp.next_call()
                await cp.answer(call, v201.GetLocalListVersionResponse(version_number=1))

            nursery.start_soon(answer_next)
            result = await ref.ask(SendCommand("GetLocalListVersion", {}), timeout=30)
        assert result.response == {"versionNumber": 1}


async def test_invalid_commands_are_refused_before_anything_is_sent(database_url):
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        with pytest.raises(InvalidCommand, match="not an action the CSMS sends"):
            await ref.ask(SendCommand("Heartbeat", {}), timeout=5)
        with pytest.raises(InvalidCommand) as info:
            await ref.ask(SendCommand("Reset", {"type": "Sometime"}), timeout=5)
        assert info.value.field == "type"
        assert cp.inbox == []


async def test_station_call_error_is_reported_with_its_code(database_url):
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        async with trio.open_nursery() as nursery:

            async def refuse() -> None:
                call = await cp.next_call()
                await cp.link.send_text(
                    cp.conn.send(CallError(call.message_id, ErrorCode.NOT_SUPPORTED, "no resets"))
                )

            nursery.start_soon(refuse)
            with pytest.raises(StationCallError) as info:
                await ref.ask(SendCommand("Reset", {"type": "OnIdle"}), timeout=10)
        assert info.value.ocpp_code == "NotSupported"


async def test_disconnect_fails_the_outstanding_command_and_frees_the_name(database_url):
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()
        async with trio.open_nursery() as nursery:

            async def vanish() -> None:
                await cp.next_call()
                await cp.link.close()

            nursery.start_soon(vanish)
            with pytest.raises(StationDisconnected):
                await ref.ask(SendCommand("ClearCache", {}), timeout=10)
        await trio.testing.wait_all_tasks_blocked()
        assert node.stations.registry.lookup("CP1") is None


async def test_a_new_connection_replaces_the_old_one(database_url):
    async with running_node(database_url) as node:
        node.register("CP1")
        old, _ = await node.connect("CP1")
        new, cp = await node.connect("CP1")
        assert not old.alive
        assert node.stations.registry.lookup("CP1") is new
        booted = await cp.boot()
        assert booted.status == v201.RegistrationStatusEnum.ACCEPTED
        await new.ask(Disconnect(), timeout=5)


async def test_a_failing_handler_answers_internal_error_and_the_station_lives_on(
    database_url, monkeypatch
):
    """A handler that raises gets the station InternalError; the actor carries on."""
    async with running_node(database_url) as node:
        node.register("CP1")
        ref, cp = await node.connect("CP1")
        await cp.boot()

        async def broken(st, request, raw) -> None:
            raise RuntimeError("handler failed")

        monkeypatch.setitem(HANDLERS, "DataTransfer", broken)
        answer = await cp.call(v201.DataTransferRequest(vendor_id="acme"))
        assert isinstance(answer, CallErrorReceived)
        assert answer.code == ErrorCode.INTERNAL_ERROR
        assert (await cp.call(v201.HeartbeatRequest())).current_time is not None
        assert ref.generation == 1


async def test_ocpp21_station_boots_and_reports(database_url):
    async with running_node(database_url) as node:
        node.register("CP21")
        ref, cp = await node.connect("CP21", Version.V21)
        booted = await cp.boot()
        assert str(booted.status) == "Accepted"
        assert (await ref.ask(GetSnapshot(), timeout=5)).version == "ocpp2.1"
