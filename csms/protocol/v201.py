"""OCPP 2.0.1 messages, data types and enumerations (generated from the official schemas)."""

from ._generated.v201 import *  # noqa: F403
from ._generated.v201 import __all__ as __all__
