"""Bidirectional power transfer and DER control (2.1 Q, R): the station's DER alarms, start/stop
notifications and control reports, to the event stream. NotifyEVChargingNeeds and the meter
values of a V2G session reach the V2G owner through routes (see ``csms/actors/station/_routes``).
"""

from __future__ import annotations

from csms.domain.events import DERAlarm, DERControlReported, DERStartStop

from ._registry import acknowledge

acknowledge(DERAlarm, DERStartStop, DERControlReported)
