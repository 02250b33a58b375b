"""The meter values of a TransactionEvent are made into rows by PostgreSQL, from the event's
payload, in the statement that inserts the event: for every schema-valid event (2.0.1 and 2.1,
every optional field of a sampled value present or absent, multipliers, phases, timestamps in
every form the schema check accepts) the rows stored are the rows ``meter_rows_from_json`` makes
of the same payload.

One difference is allowed, and checked to be the only one: PostgreSQL reads a value's JSON
number exactly, where Python goes through a float. The payload is the wire as orjson read it, so
its numbers are floats (the same digits either way) or integers of up to 64 bits, which a float
rounds beyond 2^53: the stored value is then the exact one, and Python's is it through a float.
"""

from __future__ import annotations

import collections
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs
import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.domain.metering import meter_rows_from_json, transaction_record_from_json
from csms.domain.records import MeterValueRow
from csms.protocol import Direction, Version, validate_payload
from csms.protocol._catalog import catalog
from csms.storage import Batch, BatchWriter, connect

from ..protocol.strategies import rfc3339
from .records import station

ACTION = "TransactionEvent"
STATION = "CP001"


def _enum(version: Version, name: str) -> list[str]:
    enum: list[str] = catalog(version).schema(ACTION, Direction.REQUEST)["definitions"][name][
        "enum"
    ]
    return enum


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 as the converter writes it, or another form the schema check accepts:
    nanoseconds (PostgreSQL would round what Python cuts), a comma, lower case, a space, an
    offset without its colon."""
    text: str = draw(rfc3339())
    form = draw(st.sampled_from(["as is", "digits", "comma", "lower", "space", "offset"]))
    date, _, time = text.partition("T")
    clock, zone = time[:8], time[8:]
    fraction = ""
    if zone.startswith("."):
        fraction, zone = zone[:7], zone[7:]
    if form == "digits":
        fraction = "." + draw(st.text("0123456789", min_size=7, max_size=9))
    elif form == "comma":
        fraction = "," + draw(st.text("0123456789", min_size=1, max_size=6))
    elif form == "offset" and zone != "Z":
        zone = zone.replace(":", "")
    text = f"{date}T{clock}{fraction}{zone}"
    if form == "lower":
        text = text.lower()
    elif form == "space":
        text = text.replace("T", " ")
    return text


def sampled_values(version: Version) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "value": st.one_of(
                st.integers(-(2**63), 2**64 - 1),  # what orjson reads as an integer
                st.integers(-(10**6), 10**6),
                st.floats(allow_nan=False, allow_infinity=False),
                st.floats(-1e6, 1e6),
                st.just(-0.0),
            )
        },
        optional={
            "measurand": st.sampled_from(_enum(version, "MeasurandEnumType")),
            "phase": st.sampled_from(_enum(version, "PhaseEnumType")),
            "location": st.sampled_from(_enum(version, "LocationEnumType")),
            "context": st.sampled_from(_enum(version, "ReadingContextEnumType")),
            "unitOfMeasure": st.fixed_dictionaries(
                {},
                optional={
                    "unit": st.sampled_from(["Wh", "kWh", "W", "A", "V", "Percent", ""]),
                    "multiplier": st.one_of(st.integers(-3, 3), st.integers(-30, 30)),
                },
            ),
            "signedMeterValue": st.fixed_dictionaries(
                {
                    "signedMeterData": st.just("AAEC"),
                    "signingMethod": st.just("ECDSA"),
                    "encodingMethod": st.just("OCMF"),
                    "publicKey": st.just("BQY="),
                }
            ),
        },
    )


@st.composite
def events(draw: st.DrawFn, version: Version) -> dict[str, Any]:
    """A schema-valid TransactionEvent as the node holds it (the wire read by orjson)."""
    raw: dict[str, Any] = {
        "eventType": draw(st.sampled_from(["Started", "Updated", "Ended"])),
        "timestamp": draw(rfc3339()),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": draw(st.integers(0, 2**31 - 1)),
        "transactionInfo": {"transactionId": str(uuid.uuid4())},
    }
    if draw(st.booleans()):
        raw["evse"] = {"id": draw(st.integers(0, 4))}
    if draw(st.integers(0, 5)):
        raw["meterValue"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "timestamp": timestamps(),
                        "sampledValue": st.lists(sampled_values(version), min_size=1, max_size=8),
                    }
                ),
                min_size=1,
                max_size=3,
            )
        )
    raw = orjson.loads(orjson.dumps(raw))
    validate_payload(version, ACTION, Direction.REQUEST, raw)
    return raw


def expected_rows(raw: dict[str, Any]) -> collections.Counter[MeterValueRow]:
    """``meter_rows_from_json`` of the payload, each value the number PostgreSQL reads (checked
    to be Python's, or Python's through a float where a float cannot hold it)."""
    evse = raw.get("evse")
    meter_values = raw.get("meterValue") or ()
    rows = meter_rows_from_json(
        STATION,
        evse["id"] if evse is not None else 0,
        meter_values,
        transaction_id=raw["transactionInfo"]["transactionId"],
    )
    numbers = [
        (sv["value"], (sv.get("unitOfMeasure") or {}).get("multiplier") or 0)
        for mv in meter_values
        for sv in mv["sampledValue"]
    ]
    expected: collections.Counter[MeterValueRow] = collections.Counter()
    for row, (number, multiplier) in zip(rows, numbers, strict=True):
        read = Decimal(orjson.dumps(number).decode())  # the payload's JSON text, exactly
        exact = read.scaleb(multiplier)
        # Python's value is PostgreSQL's through a float: equal unless the float rounds
        assert row.value == Decimal(repr(float(read))).scaleb(multiplier)
        if isinstance(number, float) or abs(number) <= 2**53:
            assert row.value == exact
        expected[attrs.evolve(row, value=exact)] += 1
    return expected


def stored_rows(url: str, transaction_id: str) -> collections.Counter[MeterValueRow]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT station_id, timestamp, measurand::text, value, evse_id, transaction_id,"
            " phase::text, location::text, context::text, unit"
            " FROM meter_values WHERE transaction_id = %s",
            (transaction_id,),
        ).fetchall()
    return collections.Counter(MeterValueRow(*row) for row in rows)


@pytest.fixture
def writer(database_url: str) -> Iterator[BatchWriter]:
    w = BatchWriter(database_url)
    batch = Batch([[station()]])
    w.write(batch)
    assert batch.results == [None]
    yield w
    w.close()


@pytest.mark.parametrize("version", list(Version))
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_rows_postgres_makes_are_the_rows_python_makes(
    writer: BatchWriter, database_url: str, version: Version, data: st.DataObject
) -> None:
    raws = data.draw(st.lists(events(version), min_size=1, max_size=4))
    batch = Batch([[transaction_record_from_json(STATION, raw)] for raw in raws])
    writer.write(batch)
    assert batch.results == [None] * len(raws)
    assert not batch.replayed
    for raw in raws:
        transaction_id = raw["transactionInfo"]["transactionId"]
        assert stored_rows(database_url, transaction_id) == expected_rows(raw)
    # a retry: acknowledged, nothing stored twice
    writer.write(again := Batch([[transaction_record_from_json(STATION, raws[0])]]))
    assert again.results == [None]
    transaction_id = raws[0]["transactionInfo"]["transactionId"]
    assert stored_rows(database_url, transaction_id) == expected_rows(raws[0])


def test_timestamps_postgres_would_read_otherwise_are_read_as_python_reads_them(
    writer: BatchWriter, database_url: str
) -> None:
    raw = {
        "eventType": "Updated",
        "timestamp": "2026-02-01T08:00:00Z",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-ns"},
        "meterValue": [
            {"timestamp": text, "sampledValue": [{"value": i}]}
            for i, text in enumerate(
                [
                    "2026-02-01T08:00:00.9999999Z",  # PostgreSQL alone would round it up
                    "2026-02-01T08:00:00,5+01:00",  # PostgreSQL alone would refuse these
                    "2026-02-01T08Z",
                    "2026-02-01T08:00:00.123456Z",  # read as it is
                ]
            )
        ],
    }
    validate_payload(Version.V201, ACTION, Direction.REQUEST, raw)
    batch = Batch([[transaction_record_from_json(STATION, raw)]])
    writer.write(batch)
    assert batch.results == [None]
    stored = {row.value: row.timestamp for row in stored_rows(database_url, "tx-ns")}
    utc = dt.UTC
    assert stored == {
        0: dt.datetime(2026, 2, 1, 8, 0, 0, 999999, tzinfo=utc),
        1: dt.datetime(2026, 2, 1, 7, 0, 0, 500000, tzinfo=utc),
        2: dt.datetime(2026, 2, 1, 8, tzinfo=utc),
        3: dt.datetime(2026, 2, 1, 8, 0, 0, 123456, tzinfo=utc),
    }


def test_a_value_postgres_cannot_hold_refuses_its_event_alone(
    writer: BatchWriter, database_url: str
) -> None:
    """A multiplier past numeric's range (Python's Decimal refused it too, later): a data error
    for that event's group, the slow path; the others are stored."""

    def event(transaction_id: str, multiplier: int) -> dict[str, Any]:
        return {
            "eventType": "Updated",
            "timestamp": "2026-02-01T08:00:00Z",
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 1,
            "transactionInfo": {"transactionId": transaction_id},
            "meterValue": [
                {
                    "timestamp": "2026-02-01T08:00:00Z",
                    "sampledValue": [{"value": 1.5, "unitOfMeasure": {"multiplier": multiplier}}],
                }
            ],
        }

    good, bad = event("tx-good", 3), event("tx-bad", 10**6)
    batch = Batch([[transaction_record_from_json(STATION, raw)] for raw in (good, bad)])
    writer.write(batch)
    assert batch.replayed
    assert batch.results is not None
    assert batch.results[0] is None
    assert isinstance(batch.results[1], psycopg.errors.NumericValueOutOfRange)
    assert stored_rows(database_url, "tx-good") == expected_rows(good)
    assert not stored_rows(database_url, "tx-bad")
