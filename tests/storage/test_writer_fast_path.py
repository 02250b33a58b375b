"""The batch writer's fast path holds for every mix of record kinds.

Every non-empty subset of the record kinds the node writes goes through the real pipeline as one
batch (in a shuffled group order), and each batch must be written whole in one pipelined round
trip (``Batch.replayed`` false): the replay group by group is for a genuinely bad record, never
for the writer's own use of the pipeline. Afterwards every table holds exactly what was sent:
nothing twice (retried transaction events, within a batch and across batches), nothing lost.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from csms.domain.records import (
    CommandAudit,
    DeviceVariableRecord,
    EvseStatus,
    Record,
    SecurityEventRecord,
    StationPresence,
    StationUpsert,
)
from csms.storage import Batch, BatchWriter, connect
from csms.storage import stations as station_repo
from csms.storage import transactions as tx_repo

from .records import T0, meter, station, tx_event

#: each kind builds the group(s) it adds to batch number ``i``
KINDS: dict[str, Callable[[int], list[list[Record]]]] = {
    "station": lambda i: [[StationUpsert(f"NEW{i}", T0, registration_status="Accepted")]],
    "presence": lambda i: [[StationPresence("CP001", f"node-{i}", True, T0)]],
    "evse": lambda i: [[EvseStatus("CP001", i + 1, 1, "Occupied", T0)]],
    "new_tx_event": lambda i: [[tx_event(0, "Started", transaction_id=f"tx-{i}")]],
    # stored before the loop: resent twice in this batch, acknowledged, stored never again
    "retried_tx_event": lambda i: [[tx_event(1)], [tx_event(1)]],
    "meter_value": lambda i: [[meter(n=i)]],
    "audit": lambda i: [
        [
            CommandAudit(
                str(uuid.UUID(int=i + 1)),
                "CP001",
                "Reset",
                "operator:alice",
                {"type": "Immediate"},
                "sent",
                T0,
            )
        ]
    ],
    "device_variable": lambda i: [
        [DeviceVariableRecord("CP001", "OCPPCommCtrlr", f"Var{i}", T0, value=str(i))]
    ],
    "security_event": lambda i: [
        [SecurityEventRecord("CP001", "SettingSystemTime", T0 + dt.timedelta(seconds=i))]
    ],
}

MIXES = [mix for n in range(1, len(KINDS) + 1) for mix in itertools.combinations(sorted(KINDS), n)]


def scalar(url: str, sql: str) -> Any:
    with connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def writer(database_url):
    w = BatchWriter(database_url)
    yield w
    w.close()


def test_every_mix_of_record_kinds_takes_the_fast_path(writer, database_url):
    setup = Batch([[station()], [tx_event(0, "Started")], [tx_event(1)]])
    writer.write(setup)
    assert setup.results == [None, None, None]

    shuffle = random.Random(1234).shuffle
    replayed: list[tuple[str, ...]] = []
    for i, mix in enumerate(MIXES):
        groups = [group for kind in mix for group in KINDS[kind](i)]
        shuffle(groups)
        batch = Batch(groups)
        writer.write(batch)
        assert batch.results == [None] * len(groups), mix
        if batch.replayed:
            replayed.append(mix)
    assert replayed == []

    def sent(kind: str) -> list[int]:
        return [i for i, mix in enumerate(MIXES) if kind in mix]

    new_tx = sent("new_tx_event")
    # each new Started event carries two meter values; the setup's two events four more
    assert scalar(database_url, "SELECT count(*) FROM meter_values") == (
        len(sent("meter_value")) + 2 * len(new_tx) + 4
    )
    assert scalar(database_url, "SELECT count(*) FROM transaction_events") == len(new_tx) + 2
    assert scalar(database_url, "SELECT count(*) FROM transactions") == len(new_tx) + 1
    assert scalar(database_url, "SELECT count(*) FROM stations") == len(sent("station")) + 1
    assert scalar(database_url, "SELECT count(*) FROM evses") == len(sent("evse"))
    assert scalar(database_url, "SELECT count(*) FROM commands") == len(sent("audit"))
    assert scalar(database_url, "SELECT count(*) FROM device_variables") == len(
        sent("device_variable")
    )
    assert scalar(database_url, "SELECT count(*) FROM security_events") == len(
        sent("security_event")
    )
    with connect(database_url) as conn:
        row = station_repo.get(conn, "CP001")
        assert row is not None
        assert row.node_id == f"node-{sent('presence')[-1]}"
        events = tx_repo.events(conn, "CP001", "tx-1")
        assert [e.seq_no for e in events] == [0, 1]
        for i in new_tx:
            tx = tx_repo.get(conn, "CP001", f"tx-{i}")
            assert tx is not None
            assert tx.state == "Active"


def test_a_bad_record_takes_the_slow_path_and_says_so(writer, database_url):
    """The counterpart: the replay is there, and flagged, when a record is really bad."""
    too_long = StationUpsert("CP002", T0, vendor_name="x" * 51)
    batch = Batch([[station()], [tx_event(0, "Started")], [too_long]])
    writer.write(batch)
    assert batch.replayed
    assert batch.results is not None
    assert batch.results[:2] == [None, None]
    assert isinstance(batch.results[2], Exception)
    assert scalar(database_url, "SELECT count(*) FROM transaction_events") == 1
