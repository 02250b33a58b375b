"""Sans-IO OCPP-J (OCPP 2.0.1 and 2.1, Part 4): frames, schema validation, typed messages and
the RPC state of a connection. No sockets, no clocks, no trio.

Typical server-side use::

    conn = OcppConnection(Role.SERVER, Version.V201, supported_actions=HANDLED)
    for event in conn.receive_text(text):
        if isinstance(event, CallReceived):
            response = handle(event.payload)                    # a v201.*Response
            await ws.send(conn.send(CallResult(event.message_id, response)))
        elif isinstance(event, ProtocolViolation) and event.reply is not None:
            await ws.send(event.reply)

Message classes live in `csms.protocol.v201` and `csms.protocol.v21`.
"""

from . import v21, v201
from ._catalog import Direction, Version
from ._converter import converter, structure_payload, unstructure_payload
from ._errors import ErrorCode, LocalProtocolError, OcppError, PayloadError, RemoteProtocolError
from ._events import (
    Call,
    CallError,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultError,
    CallResultErrorReceived,
    CallResultReceived,
    Event,
    InvalidCallResult,
    ProtocolViolation,
    Send,
    SendReceived,
    UnmatchedResponse,
)
from ._frames import (
    CallErrorFrame,
    CallFrame,
    CallResultErrorFrame,
    CallResultFrame,
    Frame,
    MessageType,
    SendFrame,
    new_message_id,
    parse_frame,
    random_uuid,
    serialize_frame,
)
from ._rpc import BootState, OcppConnection, OutstandingCall, Role
from ._validation import parse_datetime, validate_payload, warm_up

__all__ = [
    "BootState",
    "Call",
    "CallError",
    "CallErrorFrame",
    "CallErrorReceived",
    "CallFrame",
    "CallReceived",
    "CallResult",
    "CallResultError",
    "CallResultErrorFrame",
    "CallResultErrorReceived",
    "CallResultFrame",
    "CallResultReceived",
    "Direction",
    "ErrorCode",
    "Event",
    "Frame",
    "InvalidCallResult",
    "LocalProtocolError",
    "MessageType",
    "OcppConnection",
    "OcppError",
    "OutstandingCall",
    "PayloadError",
    "ProtocolViolation",
    "RemoteProtocolError",
    "Role",
    "Send",
    "SendFrame",
    "SendReceived",
    "UnmatchedResponse",
    "Version",
    "converter",
    "new_message_id",
    "parse_datetime",
    "parse_frame",
    "random_uuid",
    "serialize_frame",
    "structure_payload",
    "unstructure_payload",
    "v21",
    "v201",
    "validate_payload",
    "warm_up",
]
