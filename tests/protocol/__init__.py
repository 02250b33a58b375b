"""Tests of the sans-IO OCPP-J layer (csms.protocol)."""
