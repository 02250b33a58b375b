"""Commands whose list the station limits, sent as several requests (B05.FR.11, B06.FR.05,
B08.FR.06, N02.FR.07, N04.FR.09, N06.FR.04); the pure rules are in
:mod:`csms.services.message_limits`.

A request of two or more entries of a limited list (``LIMITED``) is checked whole (schema,
password rules) before anything is sent, split by the station's limits, and the parts sent one
after another as commands of their own (each audited with its payload); the answers are merged
into one, whose command id is the first part's. A part that fails ends the command with that
part's error; the parts before it took effect and are in the audit.

The limits, per connection, come from what the station reported: its NotifyReport (the device
model stored in ``device_variables``, and the reports of this connection), any GetVariables
answer that carries them, and otherwise one GetVariables the CSMS asks when they are first
needed. GetVariables' own limits are asked for first, two entries in one request (one at a
time if the station refuses that with a CALLERROR), since that request cannot be split by
limits not yet known; the limits of another action are then asked for in a request split by
them. What the station does not have (UnknownVariable, a CALLERROR to the one-entry question)
is no limit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs
import orjson

from csms.domain.records import DeviceVariableRecord
from csms.protocol import Direction, structure_payload
from csms.services.message_limits import (
    LIMITED,
    LimitKey,
    Limits,
    TooLarge,
    discovery_payload,
    limit_keys,
    limits_from,
    limits_in_results,
    merge_responses,
    parse_limit,
    split_payload,
)
from csms.storage import device_model

from ._commands import CommandError, CommandResult, InvalidCommand, SendCommand, StationCallError

if TYPE_CHECKING:
    from ._actor import StationActor

log = logging.getLogger("csms.station")

_LIMIT_KEYS = frozenset(key for action in LIMITED for key in limit_keys(action))


async def send(st: StationActor, command: SendCommand) -> CommandResult:
    """Send ``command``, split when the station's limits need it."""
    action = command.action
    limited = LIMITED.get(action)
    entries = command.payload.get(limited.field) if limited is not None else None
    if not isinstance(entries, list) or len(entries) < 2:
        return await _one(st, command)
    # checked whole before any part is sent; split as the JSON that goes on the wire
    wire = orjson.loads(orjson.dumps(st.wire(st.request(command))))
    try:
        parts = split_payload(action, wire, await _limits(st, action))
    except TooLarge as exc:
        assert limited is not None
        raise InvalidCommand(str(exc), field=f"{limited.field}[{exc.index}]") from None
    if len(parts) == 1:
        return await _one(st, command)
    results: list[CommandResult] = []
    for number, part in enumerate(parts, 1):
        try:
            results.append(await _one(st, attrs.evolve(command, payload=part)))
        except CommandError as exc:
            if results:
                exc.args = (
                    f"{exc} (part {number} of {len(parts)}; the parts before it were answered, "
                    "see the command audit)",
                )
            raise
    merged = merge_responses(action, [result.response for result in results])
    message = structure_payload(st.version, action, Direction.RESPONSE, merged, validate=False)
    return CommandResult(results[0].command_id, action, merged, message)


async def _one(st: StationActor, command: SendCommand) -> CommandResult:
    result = await st._command(command)
    if command.action == "GetVariables":
        results = result.response.get("getVariableResult")
        if isinstance(results, list):
            _known(st).update(limits_in_results(results))
    return result


def note_reported(
    known: dict[LimitKey, int | None], records: Iterable[DeviceVariableRecord]
) -> None:
    """Limits among the variables a NotifyReport carries (they replace what was known)."""
    for record in records:
        if record.variable_instance is None:
            continue
        key = (record.component, record.variable, record.variable_instance)
        if (
            key in _LIMIT_KEYS
            and record.attribute_type == "Actual"
            and record.component_instance is None
            and record.evse_id is None
        ):
            known[key] = parse_limit(record.value)


def _known(st: StationActor) -> dict[LimitKey, int | None]:
    return st.context.limits


async def _limits(st: StationActor, action: str) -> Limits:
    known = _known(st)
    missing = [key for key in limit_keys(action) if key not in known]
    if missing:
        try:
            stored = await st.services.database.run(
                device_model.station_values, st.station_id, missing
            )
        except Exception as exc:  # the station is asked instead
            log.warning(
                "could not read the station's reported limits",
                extra={"station": st.station_id, "error": repr(exc)},
            )
            stored = {}
        for key in missing:
            if key in stored:
                known[key] = parse_limit(stored[key])
        missing = [key for key in missing if key not in known]
    if missing:
        await _ask(st, missing)
    return limits_from(known, action)


async def _ask(st: StationActor, keys: Sequence[LimitKey]) -> None:
    """Ask the station for ``keys`` (GetVariables); what it does not report is no limit. A
    station that refuses a question of several entries (perhaps too many for it) is asked
    one entry at a time."""
    known = _known(st)
    try:
        parts = [discovery_payload(keys)]
        if len(keys) > 1 and not set(keys) <= set(limit_keys("GetVariables")):
            parts = split_payload("GetVariables", parts[0], await _limits(st, "GetVariables"))
        for part in parts:
            await _one(st, SendCommand("GetVariables", part))
    except (StationCallError, TooLarge) as exc:
        if len(keys) > 1:
            for key in keys:
                if key not in known:
                    await _ask(st, [key])
            return
        log.warning(
            "the station did not report a message limit; it is taken as none",
            extra={"station": st.station_id, "limit": ".".join(keys[0]), "error": str(exc)},
        )
    for key in keys:
        known.setdefault(key, None)
