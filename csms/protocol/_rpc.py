"""`OcppConnection`: the sans-IO OCPP-J state of one WebSocket connection (h11 style).

The I/O layer feeds every received text message to `receive_text` and writes what `send` returns;
the connection owns no socket and no clock.

Rules enforced (Part 4 unless stated):

- 4.1.1 synchronicity: at most one outstanding outbound CALL; a second `Call` raises
  `LocalProtocolError`. SEND (2.1) is not limited. Inbound CALLs are not limited (calls can cross).
- Matching: a CALLRESULT/CALLERROR answers the outstanding call only if the ids are equal; any
  other id, including that of a call given up with `timeout_outstanding`, gives
  `UnmatchedResponse` and is never matched to a later call. Reusing a timed-out id is refused.
- 4.1.7 / 4.2.3: an invalid CALL is answered with a CALLERROR (codes in `_frames` and
  `_validation`); an unknown action gives NotImplemented, a known action outside
  `supported_actions` NotSupported; a CALL whose id is still awaiting our answer RpcFrameworkError.
- 4.4: an unknown message type is answered with MessageTypeNotSupported in 2.0.1 and dropped in
  2.1. Invalid CALLERROR, CALLRESULTERROR and SEND frames are dropped (never answered).
- 4.2.3 (2.1): an invalid CALLRESULT is answered with a CALLRESULTERROR; in 2.0.1 it is dropped.
  Either way the outstanding call fails (`InvalidCallResult`).
- Server role, B01.FR.08/B01.FR.10, B02.FR.02/B02.FR.09, B03.FR.07: until the CSMS has sent a
  BootNotificationResponse with status Accepted, an inbound CALL other than BootNotification is
  answered with SecurityError, except the actions the CSMS asked for while the station was not
  accepted (B02.FR.02: TriggerMessage -> the triggered message, GetBaseReport/GetReport ->
  NotifyReport). Heartbeat is not special. CALLRESULT/CALLERROR frames are always accepted, so
  the CSMS may configure a Pending station (B02.FR.01). A SEND before acceptance is dropped. While
  Rejected the CSMS must not initiate messages (B03.FR.03): `send(Call(...))` raises. A station
  that was accepted on an earlier connection and has not rebooted starts with
  `boot_state=BootState.ACCEPTED`.
- Client role, B03.FR.08: after a BootNotificationResponse with status Rejected an inbound CALL
  is answered with SecurityError. The client's own sending is not restricted, so a simulator can
  exercise the CSMS's rules.
"""

from __future__ import annotations

import collections
import enum
import functools
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs
from fastjsonschema import JsonSchemaValueException

from ._catalog import Direction, Version, catalog
from ._converter import converter
from ._errors import (
    ErrorCode,
    LocalProtocolError,
    OcppError,
    PayloadError,
    RemoteProtocolError,
    truncate,
)
from ._events import (
    Call,
    CallError,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultError,
    CallResultErrorReceived,
    CallResultReceived,
    Command,
    Event,
    InvalidCallResult,
    ProtocolViolation,
    SendReceived,
    UnmatchedResponse,
)
from ._frames import (
    CallErrorFrame,
    CallFrame,
    CallResultErrorFrame,
    CallResultFrame,
    Frame,
    SendFrame,
    parse_frame,
    readable_message_id,
    serialize_frame,
)
from ._validation import payload_error, validate_payload, validator

__all__ = ["BootState", "OcppConnection", "OutstandingCall", "Role"]

_KNOWN_CODES: Final = {code.value: code for code in ErrorCode}
_REPORT_ACTIONS: Final = frozenset({"GetBaseReport", "GetReport"})
_SIGN_TRIGGERS: Final = frozenset(
    {
        "SignChargingStationCertificate",
        "SignV2GCertificate",
        "SignV2G20Certificate",
        "SignCombinedCertificate",
    }
)


class Role(enum.Enum):
    SERVER = "server"
    """The CSMS side."""
    CLIENT = "client"
    """The charging station side (the simulator)."""


class BootState(enum.Enum):
    """What the CSMS answered to the station's last BootNotification on this connection."""

    UNKNOWN = "Unknown"
    PENDING = "Pending"
    REJECTED = "Rejected"
    ACCEPTED = "Accepted"


@attrs.frozen
class OutstandingCall:
    message_id: str
    action: str


_Decoder = Callable[[dict[str, Any]], Any]
_NOTHING_TRIGGERED: frozenset[str] = frozenset()  # one for every connection


class OcppConnection:
    """One OCPP-J connection's protocol state; see the module docstring for the rules."""

    def __init__(
        self,
        role: Role,
        version: Version,
        *,
        supported_actions: Iterable[str] | None = None,
        boot_state: BootState = BootState.UNKNOWN,
        validate_outbound: bool = False,
        remembered_timeouts: int = 256,
        structure_lazily: Iterable[str] = (),
    ) -> None:
        """`structure_lazily`: actions whose inbound CALLs are schema-validated on receipt as
        every other, but structured into their request class only when
        `CallReceived.payload` is first read (a handler that works from `raw` saves it)."""
        self._role = role
        self._version = version
        self._catalog = catalog(version)
        self._converter = converter(version)
        self._supported = None if supported_actions is None else frozenset(supported_actions)
        self._boot_state = boot_state
        self._validate_outbound = validate_outbound
        self._outstanding: OutstandingCall | None = None
        self._awaiting_reply: dict[str, str] = {}
        # Made on the first timeout, and decoders are shared per version: thousands of idle
        # connections should not each carry them.
        self._timed_out: collections.deque[str] | None = None
        self._remembered_timeouts = remembered_timeouts
        self._triggered = _NOTHING_TRIGGERED
        self._lazy = frozenset(structure_lazily)

    @property
    def role(self) -> Role:
        return self._role

    @property
    def version(self) -> Version:
        return self._version

    @property
    def boot_state(self) -> BootState:
        return self._boot_state

    @property
    def outstanding(self) -> OutstandingCall | None:
        """The CALL we sent that is neither answered nor timed out, if any."""
        return self._outstanding

    @property
    def awaiting_reply(self) -> frozenset[str]:
        """Message ids of received CALLs we have not answered yet."""
        return frozenset(self._awaiting_reply)

    # --- inbound ---------------------------------------------------------------------------

    def receive_text(self, data: str | bytes) -> list[Event]:
        """Process one received WebSocket message. Never raises for any input."""
        try:
            frame = parse_frame(data, self._version)
        except RemoteProtocolError as exc:
            return [self._bad_frame(exc)]
        if isinstance(frame, CallFrame):
            return [self._on_call(frame)]
        if isinstance(frame, CallResultFrame):
            return [self._on_call_result(frame)]
        if isinstance(frame, CallErrorFrame):
            return [self._on_call_error(frame)]
        if isinstance(frame, CallResultErrorFrame):
            code = _KNOWN_CODES.get(frame.error_code, frame.error_code)
            return [
                CallResultErrorReceived(frame.message_id, code, frame.description, frame.details)
            ]
        return [self._on_send(frame)]

    def _bad_frame(self, exc: RemoteProtocolError) -> ProtocolViolation:
        type_id = exc.message_type_id
        if exc.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED:
            answer = self._version is Version.V201  # 2.1 section 4.4: ignore the message
            return self._violation(exc.message_id, exc.code, exc.description, call_error=answer)
        if type_id is None or type_id == 2:
            return self._violation(exc.message_id, exc.code, exc.description, call_error=True)
        if type_id == 3:
            return self._invalid_result(exc.message_id, exc.code, exc.description)
        return self._violation(exc.message_id, exc.code, exc.description, call_error=False)

    def _on_call(self, frame: CallFrame) -> Event:
        action, message_id = frame.action, frame.message_id
        if action not in self._catalog.actions:
            hint = " (a SEND-only message)" if action in self._catalog.send_actions else ""
            text = f"{truncate(action, 64)} is not an {self._version.value} action{hint}"
            return self._violation(message_id, ErrorCode.NOT_IMPLEMENTED, text, call_error=True)
        if self._supported is not None and action not in self._supported:
            text = f"{action} is not supported by this node"
            return self._violation(message_id, ErrorCode.NOT_SUPPORTED, text, call_error=True)
        refusal = self._boot_refusal(action)
        if refusal is not None:
            return self._violation(message_id, ErrorCode.SECURITY_ERROR, refusal, call_error=True)
        if message_id in self._awaiting_reply:
            text = f"a CALL with MessageId {message_id!r} is still being handled"
            return self._violation(message_id, ErrorCode.RPC_FRAMEWORK_ERROR, text, call_error=True)
        if action in self._lazy:
            try:
                validate_payload(self._version, action, Direction.REQUEST, frame.payload)
            except PayloadError as exc:
                text = f"{action} request: {exc.description}"
                return self._violation(message_id, exc.code, text, call_error=True)
            self._awaiting_reply[message_id] = action
            structure = _structurer(self._version, action, Direction.REQUEST)
            return CallReceived.lazy(message_id, action, frame.payload, structure)
        try:
            payload = self._decode(action, Direction.REQUEST, frame.payload)
        except OcppError as exc:
            text = f"{action} request: {exc.description}"
            return self._violation(message_id, exc.code, text, call_error=True)
        self._awaiting_reply[message_id] = action
        return CallReceived(message_id, action, payload, frame.payload)

    def _boot_refusal(self, action: str) -> str | None:
        state = self._boot_state
        if self._role is Role.CLIENT:
            if state is BootState.REJECTED:
                return "the CSMS rejected this station's BootNotification (B03.FR.08)"
            return None
        if state is BootState.ACCEPTED or action == "BootNotification":
            return None
        if state is not BootState.REJECTED and action in self._triggered:
            return None
        return f"{action} is not allowed before an accepted BootNotification ({state.value})"

    def _on_call_result(self, frame: CallResultFrame) -> Event:
        outstanding = self._outstanding
        if outstanding is None or outstanding.message_id != frame.message_id:
            return self._unmatched(frame.message_id, 3)
        self._outstanding = None
        try:
            payload = self._decode(outstanding.action, Direction.RESPONSE, frame.payload)
        except OcppError as exc:
            text = f"{outstanding.action} response: {exc.description}"
            return self._invalid_result(frame.message_id, exc.code, text, outstanding.action)
        if self._role is Role.CLIENT and outstanding.action == "BootNotification":
            self._boot_state = BootState(payload.status.value)
        return CallResultReceived(frame.message_id, outstanding.action, payload, frame.payload)

    def _on_call_error(self, frame: CallErrorFrame) -> Event:
        outstanding = self._outstanding
        if outstanding is None or outstanding.message_id != frame.message_id:
            return self._unmatched(frame.message_id, 4)
        self._outstanding = None
        code = _KNOWN_CODES.get(frame.error_code, frame.error_code)
        return CallErrorReceived(
            frame.message_id, outstanding.action, code, frame.description, frame.details
        )

    def _on_send(self, frame: SendFrame) -> Event:
        action, message_id = frame.action, frame.message_id
        if action not in self._catalog.send_actions:
            text = f"{truncate(action, 64)} is not a SEND message of {self._version.value}"
            return self._violation(message_id, ErrorCode.NOT_IMPLEMENTED, text, call_error=False)
        if self._supported is not None and action not in self._supported:
            text = f"{action} is not supported by this node"
            return self._violation(message_id, ErrorCode.NOT_SUPPORTED, text, call_error=False)
        refusal = self._boot_refusal(action)
        if refusal is not None:
            return self._violation(message_id, ErrorCode.SECURITY_ERROR, refusal, call_error=False)
        try:
            payload = self._decode(action, Direction.SEND, frame.payload)
        except OcppError as exc:
            text = f"{action}: {exc.description}"
            return self._violation(message_id, exc.code, text, call_error=False)
        return SendReceived(message_id, action, payload, frame.payload)

    def _decode(self, action: str, direction: Direction, payload: dict[str, Any]) -> Any:
        """Validate and structure; raises `OcppError` with the code to answer with."""
        decode = _decoder(self._version, action, direction)
        try:
            return decode(payload)
        except PayloadError:
            raise
        except Exception as exc:  # schema-valid but the converter refused it: our bug
            raise OcppError(ErrorCode.INTERNAL_ERROR, f"cannot decode payload: {exc!r}") from exc

    def _unmatched(self, message_id: str, type_id: int) -> UnmatchedResponse:
        timed_out = self._timed_out is not None and message_id in self._timed_out
        return UnmatchedResponse(message_id, type_id, timed_out=timed_out)

    def _violation(
        self, message_id: str, code: ErrorCode, description: str, *, call_error: bool
    ) -> ProtocolViolation:
        description = truncate(description)
        reply = None
        if call_error:
            reply = serialize_frame(CallErrorFrame(message_id, code.value, description))
        return ProtocolViolation(message_id, code, description, reply)

    def _invalid_result(
        self, message_id: str, code: ErrorCode, description: str, action: str | None = None
    ) -> ProtocolViolation:
        """An invalid CALLRESULT: 2.1 answers it with CALLRESULTERROR, 2.0.1 drops it.

        `action` is given when the result already matched the outstanding call; for a frame
        too broken to parse, the outstanding call fails if its id is readable and matches.
        """
        description = truncate(description)
        reply = None
        if self._version is Version.V21:
            reply = serialize_frame(CallResultErrorFrame(message_id, code.value, description))
        outstanding = self._outstanding
        if action is None and outstanding is not None and outstanding.message_id == message_id:
            action = outstanding.action
            self._outstanding = None
        if action is None:
            return ProtocolViolation(message_id, code, description, reply)
        return InvalidCallResult(message_id, code, description, reply, action)

    # --- outbound --------------------------------------------------------------------------

    def send(self, command: Command) -> str:
        """The frame text for `command`; raises `LocalProtocolError` (state unchanged) if OCPP-J
        forbids it now."""
        if isinstance(command, Call):
            return self._send_call(command)
        if isinstance(command, CallResult):
            action = self._reply_action(command.message_id)
            expected = self._catalog.actions[action][1]
            if type(command.payload) is not expected:
                raise LocalProtocolError(
                    f"{command.message_id} is a {action} call; "
                    f"answer it with {expected.__name__}, not {type(command.payload).__name__}"
                )
            payload = self._encode(command.payload, action, Direction.RESPONSE)
            text = self._text(CallResultFrame(command.message_id, payload))
            del self._awaiting_reply[command.message_id]
            if self._role is Role.SERVER and action == "BootNotification":
                self._boot_state = BootState(command.payload.status.value)
            return text
        if isinstance(command, CallError):
            self._reply_action(command.message_id)
            text = self._text(
                CallErrorFrame(
                    command.message_id, command.code.value, command.description, command.details
                )
            )
            del self._awaiting_reply[command.message_id]
            return text
        self._require_v21(command)
        if isinstance(command, CallResultError):
            return self._text(
                CallResultErrorFrame(
                    command.message_id, command.code.value, command.description, command.details
                )
            )
        send_action = self._catalog.send_action.get(type(command.payload))
        if send_action is None:
            raise LocalProtocolError(f"{type(command.payload).__name__} is not a SEND message")
        self._check_message_id(command.message_id)
        payload = self._encode(command.payload, send_action, Direction.SEND)
        return self._text(SendFrame(command.message_id, send_action, payload))

    def _send_call(self, command: Call) -> str:
        action = self._catalog.request_action.get(type(command.payload))
        if action is None:
            raise LocalProtocolError(
                f"{type(command.payload).__name__} is not an {self._version.value} request"
            )
        if self._outstanding is not None:
            raise LocalProtocolError(
                f"call {self._outstanding.message_id} ({self._outstanding.action}) is still "
                "outstanding; one CALL at a time (OCPP-J 4.1.1)"
            )
        self._check_message_id(command.message_id)
        if self._timed_out is not None and command.message_id in self._timed_out:
            raise LocalProtocolError(
                f"message id {command.message_id!r} belongs to a timed-out call"
            )
        if self._role is Role.SERVER and self._boot_state is BootState.REJECTED:
            raise LocalProtocolError(
                "the station's BootNotification was rejected; the CSMS must not initiate "
                "messages (B03.FR.03)",
                ErrorCode.SECURITY_ERROR,
            )
        payload = self._encode(command.payload, action, Direction.REQUEST)
        text = self._text(CallFrame(command.message_id, action, payload))
        self._outstanding = OutstandingCall(command.message_id, action)
        if self._role is Role.SERVER and self._boot_state is not BootState.ACCEPTED:
            self._triggered = self._triggered | self._triggered_actions(action, command.payload)
        return text

    def _triggered_actions(self, action: str, request: Any) -> set[str]:
        """Actions the station may send before acceptance because we asked (B02.FR.02)."""
        if action in _REPORT_ACTIONS:
            return {"NotifyReport"}
        if action != "TriggerMessage":
            return set()
        wanted = str(request.requested_message.value)
        if wanted in _SIGN_TRIGGERS:
            return {"SignCertificate"}
        return {wanted} if wanted in self._catalog.actions else set()

    def _reply_action(self, message_id: str) -> str:
        action = self._awaiting_reply.get(message_id)
        if action is None:
            raise LocalProtocolError(
                f"no received CALL with message id {message_id!r} awaits a reply"
            )
        return action

    def _require_v21(self, command: Command) -> None:
        if self._version is not Version.V21:
            raise LocalProtocolError(f"{type(command).__name__} exists only in OCPP 2.1")

    @staticmethod
    def _check_message_id(message_id: Any) -> None:
        if readable_message_id(message_id) is None:
            raise LocalProtocolError("a message id is a string of at most 36 characters")

    @staticmethod
    def _text(frame: Frame) -> str:
        try:
            return serialize_frame(frame)
        except TypeError as exc:  # orjson: an int beyond 64 bits, an unknown object in details
            raise LocalProtocolError(f"cannot serialize frame: {exc}") from exc

    def _encode(self, message: Any, action: str, direction: Direction) -> Any:
        try:
            payload = self._converter.unstructure(message)
        except Exception as exc:  # e.g. a naive datetime or a field of the wrong type
            raise LocalProtocolError(f"cannot encode {action}: {exc}") from exc
        if self._validate_outbound:
            try:
                validate_payload(self._version, action, direction, payload)
            except PayloadError as exc:
                raise LocalProtocolError(
                    f"invalid {action} {direction.name.lower()}: {exc.description}", exc.code
                ) from exc
        return payload

    # --- timeouts --------------------------------------------------------------------------

    def timeout_outstanding(self, message_id: str) -> bool:
        """Give up on the outstanding call `message_id` (the caller's timer fired).

        Returns False if that call is not outstanding (answered meanwhile). A response that
        arrives later is reported as `UnmatchedResponse(timed_out=True)`.
        """
        outstanding = self._outstanding
        if outstanding is None or outstanding.message_id != message_id:
            return False
        self._outstanding = None
        if self._timed_out is None:
            self._timed_out = collections.deque(maxlen=self._remembered_timeouts)
        self._timed_out.append(message_id)
        return True


@functools.cache
def _structurer(version: Version, action: str, direction: Direction) -> _Decoder:
    """Structure a schema-valid payload, for one (version, action, direction)."""
    hook = converter(version).get_structure_hook(catalog(version).message_class(action, direction))

    def structure(payload: dict[str, Any]) -> Any:
        return hook(payload, None)

    return structure


@functools.cache
def _decoder(version: Version, action: str, direction: Direction) -> _Decoder:
    """Validate then structure, for one (version, action, direction); shared by connections."""
    check = validator(version, action, direction)
    structure = converter(version).get_structure_hook(
        catalog(version).message_class(action, direction)
    )

    def decode(payload: dict[str, Any]) -> Any:
        try:
            check(payload)
        except JsonSchemaValueException as exc:
            raise payload_error(exc) from None
        return structure(payload, None)

    return decode
