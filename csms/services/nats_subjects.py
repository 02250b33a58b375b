"""The NATS subjects of a node (docs/NATS.md), one place for their layout.

Events: ``<prefix>.events.<station>.<catalog subject>``, e.g.
``csms.events.CP001.transaction.started``; an event about no station has ``_`` there
(``csms.events._.v2g.session.completed`` has a station, a price refresh would not). The station
comes before the catalog subject because catalog subjects have two or three tokens: a consumer
takes one station with ``csms.events.CP001.>`` and one subject with
``csms.events.*.transaction.started``, each a single subscription.

Commands: ``<prefix>.station.<station>.cmd``, subscribed by the node holding the station's socket;
node control: ``<prefix>.node.<node>.<verb>``. The event stream's subjects
(``<prefix>.events.>``) do not overlap either, so commands are never stored in it.

A station id is any OCPP identity, but a subject token may not contain ``.``, ``*``, ``>`` or
whitespace: those (and ``%``, the escape itself) are written ``%XX``, and an id that is exactly
``_`` is written ``%5F`` so it cannot be taken for "no station".
"""

from __future__ import annotations

import hashlib

__all__ = [
    "NO_STATION",
    "command_subject",
    "decode_token",
    "event_subject",
    "events_wildcard",
    "message_id",
    "node_subject",
    "station_events_wildcard",
    "station_token",
]

#: The station token of an event about no station.
NO_STATION = "_"

_ESCAPED = frozenset(".*>%")


def station_token(station_id: str) -> str:
    """``station_id`` as one subject token (reversible, see ``decode_token``)."""
    if station_id == NO_STATION:
        return "%5F"
    if not any(c in _ESCAPED or c.isspace() for c in station_id):
        return station_id
    return "".join(
        f"%{ord(c):02X}" if (c in _ESCAPED or c.isspace()) and ord(c) < 256 else c
        for c in station_id
    )


def decode_token(token: str) -> str | None:
    """The station id a token stands for (None for ``NO_STATION``)."""
    if token == NO_STATION:
        return None
    out: list[str] = []
    i = 0
    while i < len(token):
        if token[i] == "%" and _is_hex(token[i + 1 : i + 3]):
            out.append(chr(int(token[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789ABCDEFabcdef" for c in text)


def event_subject(prefix: str, subject: str, station_id: str | None) -> str:
    """Where an event of catalog ``subject`` about ``station_id`` (or none) is published."""
    token = NO_STATION if station_id is None else station_token(station_id)
    return f"{prefix}.events.{token}.{subject}"


def events_wildcard(prefix: str) -> str:
    """Every event subject: the event stream's subjects."""
    return f"{prefix}.events.>"


def station_events_wildcard(prefix: str, station_id: str) -> str:
    """Every event about one station."""
    return f"{prefix}.events.{station_token(station_id)}.>"


def command_subject(prefix: str, station_id: str) -> str:
    """The subject the node holding ``station_id``'s socket answers commands on."""
    return f"{prefix}.station.{station_token(station_id)}.cmd"


def node_subject(prefix: str, node_id: str, verb: str) -> str:
    """A node's own control subject (``takeover``, ``ping``)."""
    return f"{prefix}.node.{station_token(node_id)}.{verb}"


def message_id(body: bytes) -> str:
    """The ``Nats-Msg-Id`` of an event's body: the same event sent again has the same id, so
    JetStream stores it once within the stream's duplicate window. The body holds the event's
    time to the microsecond and its node, so two different events do not share one."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()
