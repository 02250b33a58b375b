"""Handlers for every message a charge point sends (SPEC section 4), for 2.0.1 and 2.1 alike,
one module per OCPP functional block, all in one registry: ``HANDLERS``.

A handler gets the station's ``StationContext`` (never the actor: it cannot send commands), the
request (the generated class of the station's version) and its wire JSON, and returns the
response object. A handler registered with ``handles(..., structured=False)`` (TransactionEvent)
gets None for the request and works from the schema-valid wire JSON: its connection structures
the request only if a route's owner needs it. The 2.0.1 and 2.1 classes share field names, so
one handler serves both.
Transaction data (TransactionEvent, MeterValues) is answered only after it is committed; other
records are handed to the persistence actor without waiting. Pure decisions live in
``csms/services``; messages another actor owns reach it through a route (``_routes``).

=====================  ===================================================================
module                 OCPP functional blocks
=====================  ===================================================================
``provisioning``       B: BootNotification, Heartbeat, StatusNotification, NotifyReport
``authorization``      C: Authorize (and the idTokenInfo of TransactionEvent)
``transactions``       E: TransactionEvent
``metering``           J: MeterValues
``smart_charging``     K: EV charging needs and schedules, profiles, limits
``firmware``           L: firmware status
``security``           A, M: security events, ISO 15118 certificates
``diagnostics``        N, O, H, P and other notifications to the event stream
``payment``            2.1 payment: settlements, VAT numbers
``v2x``                2.1 Q/R: DER alarms and control
=====================  ===================================================================
"""

from __future__ import annotations

from types import ModuleType

from csms.protocol import Version, v21, v201

from . import (
    authorization,
    diagnostics,
    firmware,
    metering,
    payment,
    provisioning,
    security,
    smart_charging,
    transactions,
    v2x,
)
from ._registry import HANDLERS, UNSTRUCTURED, Handler
from .provisioning import initial_boot_state

__all__ = [
    "HANDLERS",
    "SUPPORTED_ACTIONS",
    "UNSTRUCTURED_ACTIONS",
    "Handler",
    "authorization",
    "diagnostics",
    "firmware",
    "initial_boot_state",
    "message_module",
    "metering",
    "payment",
    "provisioning",
    "security",
    "smart_charging",
    "transactions",
    "v2x",
]


def message_module(version: Version) -> ModuleType:
    return v201 if version is Version.V201 else v21


#: Every action a station actor answers; one set shared by all connections.
SUPPORTED_ACTIONS = frozenset(HANDLERS)
#: The actions whose handler gets None for the request and reads the wire JSON
#: (``handles(..., structured=False)``); their connection structures the request lazily.
UNSTRUCTURED_ACTIONS = frozenset(UNSTRUCTURED)
