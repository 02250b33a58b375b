"""csms: an OCPP 2.0.1 / 2.1 Charging Station Management System, a supervised trio actor system."""

__version__ = "0.1.0"
