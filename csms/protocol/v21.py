"""OCPP 2.1 messages, data types and enumerations (generated from the official schemas)."""

from ._generated.v21 import *  # noqa: F403
from ._generated.v21 import __all__ as __all__
