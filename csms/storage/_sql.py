"""SQL of the write path and the parameters each record turns into."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from csms.domain.records import CommandAudit, V2GEventRecord

UPSERT_STATION = """
INSERT INTO stations AS s (
    id, registration_status, ocpp_version, vendor_name, model, serial_number, firmware_version,
    modem_iccid, modem_imsi, last_boot_at, last_boot_reason, updated_at)
VALUES (
    %(station_id)s, COALESCE(%(registration_status)s, 'Pending'), %(ocpp_version)s,
    %(vendor_name)s, %(model)s, %(serial_number)s, %(firmware_version)s, %(modem_iccid)s,
    %(modem_imsi)s, CASE WHEN %(boot_reason)s::text IS NULL THEN NULL ELSE %(at)s END,
    %(boot_reason)s, %(at)s)
ON CONFLICT (id) DO UPDATE SET
    registration_status = COALESCE(%(registration_status)s, s.registration_status),
    ocpp_version = COALESCE(EXCLUDED.ocpp_version, s.ocpp_version),
    vendor_name = COALESCE(EXCLUDED.vendor_name, s.vendor_name),
    model = COALESCE(EXCLUDED.model, s.model),
    serial_number = COALESCE(EXCLUDED.serial_number, s.serial_number),
    firmware_version = COALESCE(EXCLUDED.firmware_version, s.firmware_version),
    modem_iccid = COALESCE(EXCLUDED.modem_iccid, s.modem_iccid),
    modem_imsi = COALESCE(EXCLUDED.modem_imsi, s.modem_imsi),
    last_boot_at = COALESCE(EXCLUDED.last_boot_at, s.last_boot_at),
    last_boot_reason = COALESCE(EXCLUDED.last_boot_reason, s.last_boot_reason),
    updated_at = now()
"""

# A BootNotification only updates: a station deleted while its boot was in the write buffer
# must stay deleted.
UPDATE_STATION = """
UPDATE stations AS s SET
    ocpp_version = COALESCE(%(ocpp_version)s, s.ocpp_version),
    vendor_name = COALESCE(%(vendor_name)s, s.vendor_name),
    model = COALESCE(%(model)s, s.model),
    serial_number = COALESCE(%(serial_number)s, s.serial_number),
    firmware_version = COALESCE(%(firmware_version)s, s.firmware_version),
    modem_iccid = COALESCE(%(modem_iccid)s, s.modem_iccid),
    modem_imsi = COALESCE(%(modem_imsi)s, s.modem_imsi),
    last_boot_at = CASE WHEN %(boot_reason)s::text IS NULL THEN s.last_boot_at ELSE %(at)s END,
    last_boot_reason = COALESCE(%(boot_reason)s, s.last_boot_reason),
    registration_status = COALESCE(%(registration_status)s, s.registration_status),
    updated_at = now()
WHERE id = %(station_id)s
"""

# A disconnect only clears presence if this node still holds the station: after a reconnect to
# another node, the late disconnect from the old one must not erase the new presence.
UPDATE_PRESENCE = """
UPDATE stations SET
    node_id = CASE WHEN %(connected)s THEN %(node_id)s END,
    connected_since = CASE WHEN %(connected)s THEN %(at)s::timestamptz END,
    last_seen_at = %(at)s,
    updated_at = now()
WHERE id = %(station_id)s AND (%(connected)s OR node_id = %(node_id)s)
"""

# Set-based statements take their rows as one JSON array of arrays (``rows_json``): orjson
# serializes a batch's rows in C, where psycopg adapts an array parameter element by element in
# Python, and PostgreSQL (which has a core of its own) turns them back into columns.

#: (name, type) of each element of a row, in order
EVSE_COLUMNS = (
    ("station_id", "text"),
    ("evse_id", "int4"),
    ("connector_id", "int4"),
    ("status", "text"),
    ("at", "timestamptz"),
)


def _columns(columns: tuple[tuple[str, str], ...], row: str) -> str:
    """The SELECT list reading element ``i`` of the JSON array ``row`` as column ``i``."""
    return ", ".join(f"({row}->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(columns))


# The newest status per connector wins. No connector may come twice in one statement (ON
# CONFLICT DO UPDATE touches a row once).
UPSERT_EVSES = f"""
INSERT INTO evses AS e (station_id, evse_id, connector_id, status, status_at)
SELECT {_columns(EVSE_COLUMNS, "r")} FROM jsonb_array_elements(%s::jsonb) AS x(r)
ON CONFLICT (station_id, evse_id, connector_id) DO UPDATE SET
    status = EXCLUDED.status, status_at = EXCLUDED.status_at, updated_at = now()
WHERE e.status_at <= EXCLUDED.status_at
"""

# Idempotent, so it may run for a retried event too: the earliest event gives started_at, an
# Ended event ends it, the highest seqNo gives the current charging state and token.
TRANSACTION_COLUMNS = (
    ("station_id", "text"),
    ("transaction_id", "text"),
    ("event_type", "text"),
    ("evse_id", "int4"),
    ("connector_id", "int4"),
    ("id_token", "text"),
    ("id_token_type", "text"),
    ("charging_state", "text"),
    ("timestamp", "timestamptz"),
    ("stopped_reason", "text"),
    ("seq_no", "int4"),
)

# One row per event; no transaction may come twice in one statement (ON CONFLICT DO UPDATE
# touches a row once).
UPSERT_TRANSACTIONS = f"""
INSERT INTO transactions AS t (
    station_id, transaction_id, state, evse_id, connector_id, id_token, id_token_type,
    charging_state, started_at, ended_at, stopped_reason, last_seq_no)
SELECT
    station_id, transaction_id,
    CASE WHEN event_type = 'Ended' THEN 'Ended' ELSE 'Active' END,
    evse_id, connector_id, id_token, id_token_type, charging_state,
    timestamp, CASE WHEN event_type = 'Ended' THEN timestamp END,
    stopped_reason, seq_no
FROM (SELECT {_columns(TRANSACTION_COLUMNS, "r")}
      FROM jsonb_array_elements(%s::jsonb) AS x(r)) AS e
ON CONFLICT (station_id, transaction_id) DO UPDATE SET
    state = CASE WHEN t.state = 'Ended' OR EXCLUDED.state = 'Ended' THEN 'Ended' ELSE 'Active' END,
    started_at = LEAST(t.started_at, EXCLUDED.started_at),
    ended_at = COALESCE(t.ended_at, EXCLUDED.ended_at),
    stopped_reason = COALESCE(t.stopped_reason, EXCLUDED.stopped_reason),
    evse_id = COALESCE(t.evse_id, EXCLUDED.evse_id),
    connector_id = COALESCE(t.connector_id, EXCLUDED.connector_id),
    id_token = CASE WHEN EXCLUDED.last_seq_no >= t.last_seq_no
                    THEN COALESCE(EXCLUDED.id_token, t.id_token)
                    ELSE COALESCE(t.id_token, EXCLUDED.id_token) END,
    id_token_type = CASE WHEN EXCLUDED.last_seq_no >= t.last_seq_no
                         THEN COALESCE(EXCLUDED.id_token_type, t.id_token_type)
                         ELSE COALESCE(t.id_token_type, EXCLUDED.id_token_type) END,
    charging_state = CASE WHEN EXCLUDED.last_seq_no >= t.last_seq_no
                          THEN COALESCE(EXCLUDED.charging_state, t.charging_state)
                          ELSE COALESCE(t.charging_state, EXCLUDED.charging_state) END,
    last_seq_no = GREATEST(t.last_seq_no, EXCLUDED.last_seq_no),
    updated_at = now()
"""

TRANSACTION_EVENT_COLUMNS = (
    ("station_id", "text"),
    ("transaction_id", "text"),
    ("seq_no", "int4"),
    ("event_type", "text"),
    ("timestamp", "timestamptz"),
    ("trigger_reason", "text"),
    ("offline", "bool"),
    ("evse_id", "int4"),
    ("connector_id", "int4"),
    ("id_token", "text"),
    ("id_token_type", "text"),
    ("charging_state", "text"),
    ("stopped_reason", "text"),
)
_EVENT_NAMES = ", ".join(name for name, _ in TRANSACTION_EVENT_COLUMNS)

METER_VALUE_COLUMNS = (
    "station_id",
    "timestamp",
    "evse_id",
    "transaction_id",
    "measurand",
    "phase",
    "location",
    "context",
    "unit",
    "value",
)
COPY_METER_VALUES = (
    f"COPY meter_values ({', '.join(METER_VALUE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)
# binary COPY sends an enum as its label, so measurand, phase, location and context go as text
METER_VALUE_TYPES = [
    "text",
    "timestamptz",
    "int4",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "numeric",
]

# Every transaction event of a batch and their meter values in one statement: the events are
# inserted once (a retried event is skipped by ON CONFLICT) and only the meter values of the
# events actually inserted follow them (joined on what the insert returns), so nothing is read
# back mid-pipeline and a retried event's meter values are never stored twice. One row per
# event, no two with the same key: TRANSACTION_EVENT_COLUMNS, then the payload (the event's wire
# JSON, an object), then null or the payload's meterValue with its timestamps rewritten
# (``_writer``: a timestamp PostgreSQL would read otherwise than Python does).
#
# The meter values' rows are made here, from the JSON, as ``meter_rows_from_json`` makes them:
# one per sampled value; measurand Energy.Active.Import.Register, location Outlet and context
# Sample.Periodic when absent, phase null when absent, unit null when absent or empty; the value
# times 10^multiplier; the event's EVSE id (0 without one) and transaction id. The one
# difference is the value's precision: PostgreSQL reads the JSON number exactly, where Python
# goes through a float (``Decimal(repr(float(n)))``). The payload's numbers are those of the
# wire as orjson read them: a float's shortest repr (the same digits as Python's repr, so the
# same number) or an integer of up to 64 bits, which a float rounds beyond 2^53 and PostgreSQL
# does not. The stored value can only be more exact; its scale (``12`` where Python had
# ``12.0``) may differ, its number does not.
INSERT_TRANSACTION_EVENTS = f"""
WITH ev AS (
    SELECT {_columns(TRANSACTION_EVENT_COLUMNS, "r")},
        r->{len(TRANSACTION_EVENT_COLUMNS)} AS payload,
        NULLIF(r->{len(TRANSACTION_EVENT_COLUMNS) + 1}, 'null') AS meter_value
    FROM jsonb_array_elements(%s::jsonb) AS x(r)
), ins AS (
    INSERT INTO transaction_events ({_EVENT_NAMES}, payload)
    SELECT {_EVENT_NAMES}, payload FROM ev
    ON CONFLICT (station_id, transaction_id, seq_no) DO NOTHING
    RETURNING station_id, transaction_id, seq_no
)
INSERT INTO meter_values ({", ".join(METER_VALUE_COLUMNS)})
SELECT
    ev.station_id,
    (mv->>'timestamp')::timestamptz,
    COALESCE(ev.evse_id, 0),
    ev.transaction_id,
    COALESCE(sv->>'measurand', 'Energy.Active.Import.Register')::measurand,
    (sv->>'phase')::meter_phase,
    COALESCE(sv->>'location', 'Outlet')::meter_location,
    COALESCE(sv->>'context', 'Sample.Periodic')::reading_context,
    NULLIF(sv->'unitOfMeasure'->>'unit', ''),
    (sv->'value')::numeric
        * ('1e' || COALESCE((sv->'unitOfMeasure'->'multiplier')::int4, 0))::numeric
FROM ev JOIN ins USING (station_id, transaction_id, seq_no)
    CROSS JOIN LATERAL jsonb_array_elements(COALESCE(ev.meter_value, ev.payload->'meterValue'))
        AS m(mv)
    CROSS JOIN LATERAL jsonb_array_elements(mv->'sampledValue') AS s(sv)
"""

# A terminal state (responded, error, timeout, failed) is never overwritten by a late "sent".
UPSERT_COMMAND = """
INSERT INTO commands AS c (
    id, station_id, action, requested_by, node_id, message_id, payload, status, response,
    error_code, error_description, requested_at, sent_at, completed_at)
VALUES (
    %(command_id)s, %(station_id)s, %(action)s, %(requested_by)s, %(node_id)s, %(message_id)s,
    %(payload)s, %(status)s, %(response)s, %(error_code)s, %(error_description)s,
    %(requested_at)s, %(sent_at)s, %(completed_at)s)
ON CONFLICT (id) DO UPDATE SET
    status = EXCLUDED.status,
    node_id = COALESCE(EXCLUDED.node_id, c.node_id),
    message_id = COALESCE(EXCLUDED.message_id, c.message_id),
    response = COALESCE(EXCLUDED.response, c.response),
    error_code = COALESCE(EXCLUDED.error_code, c.error_code),
    error_description = COALESCE(EXCLUDED.error_description, c.error_description),
    sent_at = COALESCE(EXCLUDED.sent_at, c.sent_at),
    completed_at = COALESCE(EXCLUDED.completed_at, c.completed_at)
WHERE c.status IN ('pending', 'sent')
"""

INSERT_SECURITY_EVENT = """
INSERT INTO security_events (station_id, type, timestamp, tech_info)
VALUES (%(station_id)s, %(type)s, %(timestamp)s, %(tech_info)s)
"""

UPSERT_DEVICE_VARIABLE = """
INSERT INTO device_variables AS d (
    station_id, component, component_instance, evse_id, connector_id, variable,
    variable_instance, attribute_type, value, mutability, persistent, constant, data_type, unit,
    min_limit, max_limit, values_list, updated_at)
VALUES (
    %(station_id)s, %(component)s, %(component_instance)s, %(evse_id)s, %(connector_id)s,
    %(variable)s, %(variable_instance)s, %(attribute_type)s, %(value)s, %(mutability)s,
    %(persistent)s, %(constant)s, %(data_type)s, %(unit)s, %(min_limit)s, %(max_limit)s,
    %(values_list)s, %(at)s)
ON CONFLICT (station_id, component, component_instance, evse_id, connector_id, variable,
             variable_instance, attribute_type) DO UPDATE SET
    value = COALESCE(EXCLUDED.value, d.value),
    mutability = COALESCE(EXCLUDED.mutability, d.mutability),
    persistent = COALESCE(EXCLUDED.persistent, d.persistent),
    constant = COALESCE(EXCLUDED.constant, d.constant),
    data_type = COALESCE(EXCLUDED.data_type, d.data_type),
    unit = COALESCE(EXCLUDED.unit, d.unit),
    min_limit = COALESCE(EXCLUDED.min_limit, d.min_limit),
    max_limit = COALESCE(EXCLUDED.max_limit, d.max_limit),
    values_list = COALESCE(EXCLUDED.values_list, d.values_list),
    updated_at = EXCLUDED.updated_at
WHERE d.updated_at <= EXCLUDED.updated_at
"""

UPDATE_FIRMWARE_STATUS = """
UPDATE firmware_updates SET
    status = %(status)s, status_at = %(at)s, state = COALESCE(%(state)s, state)
WHERE station_id = %(station_id)s AND request_id = %(request_id)s AND status_at <= %(at)s
"""

INSERT_V2G_EVENT = """
INSERT INTO v2g_events (session_id, at, kind, soc_percent, power_w, energy_exported_wh, payload)
VALUES (%(session_id)s, %(at)s, %(kind)s, %(soc_percent)s, %(power_w)s,
        %(energy_exported_wh)s, %(payload)s)
"""


def command_params(c: CommandAudit) -> dict[str, Any]:
    return {
        "command_id": c.command_id,
        "station_id": c.station_id,
        "action": c.action,
        "requested_by": c.requested_by,
        "node_id": c.node_id,
        "message_id": c.message_id,
        "payload": Jsonb(c.payload),
        "status": c.status,
        "response": None if c.response is None else Jsonb(c.response),
        "error_code": c.error_code,
        "error_description": c.error_description,
        "requested_at": c.requested_at,
        "sent_at": c.sent_at,
        "completed_at": c.completed_at,
    }


def v2g_event_params(e: V2GEventRecord) -> dict[str, Any]:
    return {
        "session_id": e.session_id,
        "at": e.at,
        "kind": e.kind,
        "soc_percent": e.soc_percent,
        "power_w": e.power_w,
        "energy_exported_wh": e.energy_exported_wh,
        "payload": Jsonb(e.payload),
    }
