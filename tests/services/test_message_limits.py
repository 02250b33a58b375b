"""The pure splitting and merging of requests a station limits (csms/services/message_limits)."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.services.message_limits import (
    Limits,
    TooLarge,
    discovery_payload,
    frame_size,
    limit_keys,
    limits_from,
    limits_in_results,
    merge_responses,
    parse_limit,
    split_items,
    split_payload,
)


def entry(i: int, name: str = "Variable") -> dict[str, Any]:
    return {"component": {"name": f"Component{i}"}, "variable": {"name": name}}


def wire_size(action: str, payload: dict[str, Any]) -> int:
    """The frame as the CSMS writes it, counted independently of ``frame_size``."""
    message_id = "0f5c3a52-8d2e-4f7e-9a55-3c0c7d5f1b2e"
    return len(orjson.dumps([2, message_id, action, payload]))


_texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
_entries = st.lists(
    st.fixed_dictionaries(
        {
            "component": st.fixed_dictionaries({"name": _texts}),
            "variable": st.fixed_dictionaries({"name": _texts}),
        },
        optional={"attributeValue": _texts},
    ),
    max_size=40,
)


@given(
    entries=_entries,
    items=st.none() | st.integers(1, 12),
    size=st.none() | st.integers(60, 1200),
)
def test_split_keeps_every_part_within_the_limits_and_the_order(
    entries: list[dict[str, Any]], items: int | None, size: int | None
) -> None:
    """B06.FR.05, B05.FR.11: no part exceeds ItemsPerMessage or BytesPerMessage; the parts put
    together are the request, in order; only what must be split is."""
    payload = {"setVariableData": entries}
    oversized = [
        i
        for i, e in enumerate(entries)
        if size is not None and wire_size("SetVariables", {"setVariableData": [e]}) > size
    ]
    if oversized:
        with pytest.raises(TooLarge) as caught:
            split_payload("SetVariables", payload, Limits(items, size))
        assert caught.value.index == oversized[0]
        return
    parts = split_payload("SetVariables", payload, Limits(items, size))
    if not entries:  # nothing to split (the schema refuses an empty list anyway)
        assert parts == [payload]
        return
    assert [e for part in parts for e in part["setVariableData"]] == entries
    for part in parts:
        assert set(part) == {"setVariableData"}
        if items is not None:
            assert len(part["setVariableData"]) <= items
        if size is not None:
            assert wire_size("SetVariables", part) <= size
    assert all(part["setVariableData"] for part in parts)
    # greedy: no part could have taken the next part's first entry
    for part, following in itertools.pairwise(parts):
        grown = {"setVariableData": [*part["setVariableData"], following["setVariableData"][0]]}
        too_many = items is not None and len(grown["setVariableData"]) > items
        too_big = size is not None and wire_size("SetVariables", grown) > size
        assert too_many or too_big


def _second(pair: tuple[int, int]) -> int:
    return pair[1]


@given(
    sizes=st.lists(st.integers(1, 50), max_size=60),
    items=st.none() | st.integers(1, 7),
    budget=st.none() | st.integers(60, 200),
)
def test_split_items_by_weights(sizes: list[int], items: int | None, budget: int | None) -> None:
    base = 10
    oversized = [i for i, s in enumerate(sizes) if budget is not None and base + s > budget]
    pairs = list(enumerate(sizes))
    if oversized:
        with pytest.raises(TooLarge) as caught:
            split_items(pairs, max_items=items, max_bytes=budget, base_size=base, item_size=_second)
        assert caught.value.index == oversized[0]
        return
    runs = split_items(pairs, max_items=items, max_bytes=budget, base_size=base, item_size=_second)
    assert [pair for run in runs for pair in run] == list(enumerate(sizes))
    for run in runs:
        assert items is None or len(run) <= items
        weight = base + sum(s for _, s in run) + max(len(run) - 1, 0)
        assert budget is None or weight <= budget


def test_frame_size_is_the_call_frame() -> None:
    payload = {"id": [1, 2, 3]}
    assert frame_size("ClearVariableMonitoring", payload) == wire_size(
        "ClearVariableMonitoring", payload
    )


def test_a_request_within_the_limits_is_left_whole() -> None:
    payload = {"getVariableData": [entry(i) for i in range(4)]}
    assert split_payload("GetVariables", payload, Limits(4, None)) == [payload]
    assert split_payload("GetVariables", payload, Limits()) == [payload]
    assert split_payload("Reset", {"type": "Immediate"}, Limits(1, 10)) == [{"type": "Immediate"}]


def test_ten_variables_by_four_are_three_requests_with_the_other_fields_kept() -> None:
    payload = {"getVariableData": [entry(i) for i in range(10)], "customData": {"vendorId": "x"}}
    parts = split_payload("GetVariables", payload, Limits(4, None))
    assert [len(p["getVariableData"]) for p in parts] == [4, 4, 2]
    assert all(p["customData"] == {"vendorId": "x"} for p in parts)


def test_get_report_splits_its_component_variables_and_keeps_the_request_id() -> None:
    payload = {
        "requestId": 5,
        "componentVariable": [{"component": {"name": f"C{i}"}} for i in range(3)],
    }
    parts = split_payload("GetReport", payload, Limits(2, None))
    assert [p["requestId"] for p in parts] == [5, 5]
    assert [len(p["componentVariable"]) for p in parts] == [2, 1]


def test_an_entry_too_large_alone_names_its_index() -> None:
    payload = {"id": [1, 2, 12345678]}
    limit = frame_size("ClearVariableMonitoring", {"id": [12]})
    with pytest.raises(TooLarge) as caught:
        split_payload("ClearVariableMonitoring", payload, Limits(None, limit))
    assert caught.value.index == 2


def test_get_monitoring_report_counts_items_only() -> None:
    """N02.FR.07 limits GetMonitoringReport by ItemsPerMessageGetReport, not by bytes."""
    assert limit_keys("GetMonitoringReport") == (
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"),
    )
    known = {
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): 3,
        ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"): 100,
    }
    assert limits_from(known, "GetMonitoringReport") == Limits(3, None)
    assert limits_from(known, "GetReport") == Limits(3, 100)
    assert limits_from(known, "SetVariables") == Limits()


def test_limit_keys_name_the_device_model_variables() -> None:
    assert limit_keys("ClearVariableMonitoring") == (
        ("MonitoringCtrlr", "ItemsPerMessage", "ClearVariableMonitoring"),
        ("MonitoringCtrlr", "BytesPerMessage", "ClearVariableMonitoring"),
    )
    assert limit_keys("Reset") == ()
    assert discovery_payload(limit_keys("GetVariables")) == {
        "getVariableData": [
            {
                "component": {"name": "DeviceDataCtrlr"},
                "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
            },
            {
                "component": {"name": "DeviceDataCtrlr"},
                "variable": {"name": "BytesPerMessage", "instance": "GetVariables"},
            },
        ]
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4", 4), (" 12 ", 12), ("0", None), ("-1", None), ("x", None), (None, None)],
)
def test_parse_limit(value: str | None, expected: int | None) -> None:
    assert parse_limit(value) == expected


def test_limits_in_get_variables_results() -> None:
    def result(
        name: str, instance: str, status: str, value: str | None = None, **extra: Any
    ) -> Any:
        r: dict[str, Any] = {
            "attributeStatus": status,
            "component": {"name": "DeviceDataCtrlr"},
            "variable": {"name": name, "instance": instance},
            **extra,
        }
        if value is not None:
            r["attributeValue"] = value
        return r

    found = limits_in_results(
        [
            result("ItemsPerMessage", "GetVariables", "Accepted", "4"),
            result("BytesPerMessage", "GetVariables", "UnknownVariable"),
            result("ItemsPerMessage", "SetVariables", "Rejected"),
            result("ItemsPerMessage", "GetReport", "Accepted", "9", attributeType="Target"),
            result("HeartbeatInterval", "GetReport", "Accepted", "9"),
        ]
    )
    assert found == {
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): 4,
        ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): None,
    }


def test_merged_results_keep_the_order_of_the_parts() -> None:
    merged = merge_responses(
        "SetVariables",
        [{"setVariableResult": [{"n": 1}, {"n": 2}]}, {"setVariableResult": [{"n": 3}]}],
    )
    assert merged == {"setVariableResult": [{"n": 1}, {"n": 2}, {"n": 3}]}
    one = {"status": "Accepted"}
    assert merge_responses("GetReport", [one]) == one


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["Accepted", "Accepted"], "Accepted"),
        (["EmptyResultSet", "Accepted"], "Accepted"),
        (["EmptyResultSet", "EmptyResultSet"], "EmptyResultSet"),
        (["Accepted", "Rejected", "NotSupported"], "Rejected"),
        (["EmptyResultSet", "NotSupported"], "NotSupported"),
    ],
)
def test_merged_report_status_is_the_whole_request_answer(
    statuses: list[str], expected: str
) -> None:
    responses = [
        {"status": s, "statusInfo": {"reasonCode": f"part{i}"}} for i, s in enumerate(statuses)
    ]
    merged = merge_responses("GetReport", responses)
    assert merged["status"] == expected
    assert merged == responses[statuses.index(expected)]
