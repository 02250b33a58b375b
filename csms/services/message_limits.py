"""Splitting a request whose list a station limits, and merging the answers (pure).

A station reports how many list entries, and how many bytes, it takes in one request of some
actions (Part 2 appendix, device model):

- GetVariables ``getVariableData``, SetVariables ``setVariableData`` and GetReport
  ``componentVariable``: ``DeviceDataCtrlr.ItemsPerMessage`` / ``BytesPerMessage`` with the
  action as variable instance;
- GetMonitoringReport ``componentVariable``: ``DeviceDataCtrlr.ItemsPerMessage[GetReport]``
  (N02.FR.07 names no byte limit);
- SetVariableMonitoring ``setMonitoringData`` and ClearVariableMonitoring ``id``:
  ``MonitoringCtrlr.ItemsPerMessage`` / ``BytesPerMessage`` with the action as instance.

The CSMS must not exceed them (B05.FR.11, B06.FR.05, B08.FR.06, N04.FR.09, N06.FR.04), so a
longer request is sent as several, one after another, and their answers merged into one.
``BytesPerMessage`` counts the whole serialized CALL frame, ``[2,"<message id>","<action>",{...}]``
in compact JSON (UTF-8), as the CSMS writes it (message ids are 36-character UUIDs).

Merging: the result lists are concatenated in the order the parts were sent. GetReport and
GetMonitoringReport answer a single status; the merged one is the answer the station would have
given to the whole request: the first ``Rejected`` or ``NotSupported`` (with its ``statusInfo``)
if any part had one, else ``Accepted`` if any part was accepted (a part with nothing to report
is not an error when another part reports), else ``EmptyResultSet``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs
import orjson

__all__ = [
    "LIMITED",
    "MESSAGE_ID_LENGTH",
    "LimitKey",
    "LimitedList",
    "Limits",
    "TooLarge",
    "discovery_payload",
    "frame_size",
    "limit_keys",
    "limits_from",
    "limits_in_results",
    "merge_responses",
    "parse_limit",
    "split_items",
    "split_payload",
]

T = TypeVar("T")

#: Length of the message ids the CSMS sends (UUIDs in text form).
MESSAGE_ID_LENGTH: Final = 36

#: (component, variable, variable instance) of a limit in the device model.
LimitKey = tuple[str, str, str]

_ITEMS: Final = "ItemsPerMessage"
_BYTES: Final = "BytesPerMessage"


@attrs.frozen
class LimitedList:
    """The list of an action that a station limits, and where its limits live."""

    field: str  # the request's list
    result_field: str | None  # the response's list; None: a single status is merged
    component: str
    instance: str
    counts_bytes: bool = True  # whether BytesPerMessage[instance] applies too


#: Every action whose request list a station may limit.
LIMITED: Final[Mapping[str, LimitedList]] = {
    "GetVariables": LimitedList(
        "getVariableData", "getVariableResult", "DeviceDataCtrlr", "GetVariables"
    ),
    "SetVariables": LimitedList(
        "setVariableData", "setVariableResult", "DeviceDataCtrlr", "SetVariables"
    ),
    "GetReport": LimitedList("componentVariable", None, "DeviceDataCtrlr", "GetReport"),
    "GetMonitoringReport": LimitedList(
        "componentVariable", None, "DeviceDataCtrlr", "GetReport", counts_bytes=False
    ),
    "SetVariableMonitoring": LimitedList(
        "setMonitoringData", "setMonitoringResult", "MonitoringCtrlr", "SetVariableMonitoring"
    ),
    "ClearVariableMonitoring": LimitedList(
        "id", "clearMonitoringResult", "MonitoringCtrlr", "ClearVariableMonitoring"
    ),
}


@attrs.frozen
class Limits:
    """At most ``items`` entries and ``bytes`` bytes per request; None: no limit known."""

    items: int | None = None
    bytes: int | None = None


class TooLarge(ValueError):
    """No split keeps within the limits: entry ``index`` is too large on its own."""

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


def limit_keys(action: str) -> tuple[LimitKey, ...]:
    """The device-model variables that limit ``action``'s list (none for other actions)."""
    limited = LIMITED.get(action)
    if limited is None:
        return ()
    items = (limited.component, _ITEMS, limited.instance)
    if not limited.counts_bytes:
        return (items,)
    return items, (limited.component, _BYTES, limited.instance)


def parse_limit(value: str | None) -> int | None:
    """A reported limit: a positive integer, or None (absent, unparsable, zero or less)."""
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number > 0 else None


def limits_from(known: Mapping[LimitKey, int | None], action: str) -> Limits:
    """``action``'s limits from the known values (missing keys are no limit)."""
    limited = LIMITED.get(action)
    if limited is None:
        return Limits()
    items = known.get((limited.component, _ITEMS, limited.instance))
    size = known.get((limited.component, _BYTES, limited.instance))
    return Limits(items, size if limited.counts_bytes else None)


def discovery_payload(keys: Iterable[LimitKey]) -> dict[str, Any]:
    """A GetVariables payload asking for the Actual values of ``keys``."""
    return {
        "getVariableData": [
            {"component": {"name": component}, "variable": {"name": name, "instance": instance}}
            for component, name, instance in keys
        ]
    }


_LIMIT_KEYS: Final = frozenset(key for action in LIMITED for key in limit_keys(action))


def limits_in_results(results: Iterable[Mapping[str, Any]]) -> dict[LimitKey, int | None]:
    """The limits a GetVariables answer reports: Accepted values parsed, and None for a limit
    the station said it does not have (UnknownComponent, UnknownVariable, NotSupported...).
    Results about anything else, about an EVSE or a component instance, or of another
    attribute than Actual are left out."""
    found: dict[LimitKey, int | None] = {}
    for result in results:
        component = result.get("component") or {}
        variable = result.get("variable") or {}
        if component.get("instance") is not None or component.get("evse") is not None:
            continue
        if result.get("attributeType", "Actual") != "Actual":
            continue
        key = (component.get("name"), variable.get("name"), variable.get("instance"))
        if key not in _LIMIT_KEYS:
            continue
        status = result.get("attributeStatus")
        if status == "Accepted":
            found[key] = parse_limit(result.get("attributeValue"))
        elif status != "Rejected":  # Rejected says nothing about whether the limit exists
            found[key] = None
    return found


def _compact(value: Any) -> bytes:
    return orjson.dumps(value)


def frame_size(
    action: str, payload: Mapping[str, Any], *, message_id_length: int = MESSAGE_ID_LENGTH
) -> int:
    """Bytes of the CALL frame carrying ``payload`` (compact JSON, UTF-8)."""
    return len(_compact([2, "x" * message_id_length, action, dict(payload)]))


def split_items(
    items: Sequence[T],
    *,
    max_items: int | None,
    max_bytes: int | None,
    base_size: int,
    item_size: Callable[[T], int],
) -> list[list[T]]:
    """Consecutive runs of ``items``, as few as greedy filling gives, each of at most
    ``max_items`` entries and ``max_bytes`` bytes, where a run of n entries weighs
    ``base_size`` (the frame with an empty list) plus its entries' sizes plus n - 1 commas.

    Raises TooLarge when an entry alone exceeds ``max_bytes``. An empty list is one empty run.
    """
    if max_items is not None and max_items < 1:
        raise ValueError("max_items must be at least 1")
    runs: list[list[T]] = []
    run: list[T] = []
    size = base_size
    for index, item in enumerate(items):
        weight = item_size(item)
        if max_bytes is not None and base_size + weight > max_bytes:
            raise TooLarge(
                f"entry {index} needs a {base_size + weight}-byte request on its own; "
                f"the station takes at most {max_bytes} bytes",
                index=index,
            )
        grown = size + weight + (1 if run else 0)
        full = max_items is not None and len(run) >= max_items
        if run and (full or (max_bytes is not None and grown > max_bytes)):
            runs.append(run)
            run, grown = [], base_size + weight
        run.append(item)
        size = grown
    runs.append(run)
    return runs


def split_payload(
    action: str,
    payload: Mapping[str, Any],
    limits: Limits,
    *,
    message_id_length: int = MESSAGE_ID_LENGTH,
) -> list[dict[str, Any]]:
    """``payload`` as the requests that keep within ``limits``: one (``payload`` itself) when
    it fits or ``action`` has no limited list, else copies with consecutive runs of the list.

    ``payload`` should be the wire form the CSMS sends (as normalized by the schema classes),
    so that sizes are those of the frames. Raises TooLarge (``index`` names the entry) when an
    entry is too large for one request.
    """
    limited = LIMITED.get(action)
    entries = payload.get(limited.field) if limited is not None else None
    if limited is None or not isinstance(entries, list):
        return [dict(payload)]
    max_bytes = limits.bytes if limited.counts_bytes else None
    if max_bytes is None and (limits.items is None or len(entries) <= limits.items):
        return [dict(payload)]
    base = frame_size(action, {**payload, limited.field: []}, message_id_length=message_id_length)
    runs = split_items(
        entries,
        max_items=limits.items,
        max_bytes=max_bytes,
        base_size=base,
        item_size=lambda entry: len(_compact(entry)),
    )
    return [{**payload, limited.field: run} for run in runs]


_STATUS_RANK: Final = {"Accepted": 1, "EmptyResultSet": 0}


def merge_responses(action: str, responses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One answer from the answers to the parts, in the order the parts were sent."""
    if not responses:
        raise ValueError("nothing to merge")
    if len(responses) == 1:
        return dict(responses[0])
    limited = LIMITED.get(action)
    if limited is None:
        raise ValueError(f"{action} is never split")
    if limited.result_field is not None:
        merged = dict(responses[0])
        merged[limited.result_field] = [
            result for response in responses for result in response.get(limited.result_field, ())
        ]
        return merged
    for response in responses:  # a refusal of any part is the answer
        if response.get("status") not in _STATUS_RANK:
            return dict(response)
    return dict(max(responses, key=lambda r: _STATUS_RANK[r["status"]]))
