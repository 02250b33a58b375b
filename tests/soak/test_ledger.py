"""The ledger: what the simulated stations saw acknowledged, checked against
PostgreSQL. A clean run checks out; a loss made on purpose (the persistence actor's test-only
switch drops one acknowledged TransactionEvent before COMMIT) is caught with its exact record;
so is a stored event that no station had acknowledged."""

from __future__ import annotations

import trio

from csms.actors import persistence
from csms.simulator._loadtest import LoadTestOptions
from csms.soak import Fleet, check_ledger

from ..simulator.conftest import PASSWORD, register, running_node

STATIONS = 12


def options(node) -> LoadTestOptions:
    return LoadTestOptions(
        server=f"ws://127.0.0.1:{node.ocpp_port}/ocpp",
        password=PASSWORD,
        stations=STATIONS,
        ramp=1000.0,
        scenario="transactions",
        id_prefix="LEDGER",
        heartbeat_interval=5.0,
        meter_interval=0.05,
        charge_seconds=0.3,
        idle_seconds=0.05,
    )


async def run_fleet(database_url: str, events: int) -> Fleet:
    """Run the fleet until ``events`` TransactionEvents were acknowledged and every station is
    drained, stop it, then stop the node (which flushes what it holds)."""
    register(database_url, *(f"LEDGER{i:06d}" for i in range(STATIONS)))
    async with running_node(database_url) as node:
        fleet = Fleet(options(node))
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(fleet.run)
                while len(fleet.ledger) < events:
                    await fleet.acknowledged_again()
                await fleet.drained()
                nursery.cancel_scope.cancel()
    return fleet


async def test_a_clean_run_checks_out_and_a_stored_event_never_acknowledged_is_named(
    database_url,
):
    fleet = await run_fleet(database_url, events=150)
    acknowledged, pending = fleet.ledger.entries, fleet.pending()
    check = check_ledger(database_url, acknowledged, pending, fleet.ends())
    assert check.ok, check.violations
    assert check.acknowledged >= 150
    assert check.stored_events >= check.acknowledged_events
    assert check.duplicates == 0

    # One record the stations did acknowledge, left out of the ledger: now it is a phantom
    # (and its meter values more than were acknowledged).
    hidden = next(e for e in acknowledged if e.meter_values > 0)
    rest = [e for e in acknowledged if e is not hidden]
    check = check_ledger(database_url, rest, pending, fleet.ends())
    kinds = {(v.kind, v.station_id) for v in check.violations}
    assert ("phantom", hidden.station_id) in kinds
    assert ("meter_values_duplicated", hidden.station_id) in kinds
    phantom = next(v for v in check.violations if v.kind == "phantom")
    assert f"transactionId={hidden.transaction_id} seqNo={hidden.seq_no}" in phantom.detail


async def test_an_acknowledged_event_dropped_before_commit_is_caught_with_its_record(
    database_url, monkeypatch
):
    monkeypatch.setattr(persistence, "LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST", True)
    fleet = await run_fleet(database_url, events=60)
    assert persistence.LOSE_NEXT_TRANSACTION_EVENT_FOR_TEST is False  # it fired, once
    check = check_ledger(database_url, fleet.ledger.entries, fleet.pending(), fleet.ends())
    lost = [v for v in check.violations if v.kind == "lost"]
    assert len(lost) == 1, check.violations
    assert lost[0].detail.startswith("acknowledged, not stored: TransactionEvent station=LEDGER")
    assert check.stored_events == check.acknowledged_events - 1
    assert {v.kind for v in check.violations} <= {"lost", "meter_values_lost"}
    assert not check.ok
