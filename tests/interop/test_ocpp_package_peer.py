"""Interoperability: charge points built on the `ocpp` package (PyPI) against a whole node over
real WebSockets. The package validates every message the CSMS sends against the official
schemas, and the node validates what it sends too (``validate_outbound``)."""

from __future__ import annotations

import datetime as dt

import pytest
from ocpp.v21 import call as call21
from ocpp.v201 import call

from csms.actors.station import GetSnapshot, SendCommand
from csms.storage import connect, tokens

from .peer import interop_node, open_peer, register

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC).isoformat()

#: Every command of SPEC section 5 with a schema-valid payload (2.0.1).
COMMANDS = [
    (
        "RequestStartTransaction",
        {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 1, "evseId": 1},
    ),
    ("RequestStopTransaction", {"transactionId": "tx-remote"}),
    ("Reset", {"type": "OnIdle"}),
    (
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
    ),
    (
        "SetChargingProfile",
        {
            "evseId": 1,
            "chargingProfile": {
                "id": 10,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "W",
                        "startSchedule": NOW,
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
                    }
                ],
            },
        },
    ),
    ("ClearChargingProfile", {"chargingProfileId": 10}),
    ("GetChargingProfiles", {"requestId": 5, "chargingProfile": {"stackLevel": 0}}),
    ("GetCompositeSchedule", {"duration": 3600, "evseId": 1}),
    (
        "UpdateFirmware",
        {
            "requestId": 3,
            "firmware": {"location": "https://fw.example/v2.bin", "retrieveDateTime": NOW},
        },
    ),
    (
        "GetVariables",
        {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
    ),
    (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "60",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ),
    ("GetBaseReport", {"requestId": 9, "reportBase": "FullInventory"}),
    ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
    ("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}),
    ("ClearCache", {}),
    ("SendLocalList", {"versionNumber": 8, "updateType": "Full"}),
    ("GetLocalListVersion", {}),
    (
        "ReserveNow",
        {"id": 4, "expiryDateTime": NOW, "idToken": {"idToken": "TAG1", "type": "ISO14443"}},
    ),
    ("CancelReservation", {"reservationId": 4}),
    (
        "CertificateSigned",
        {"certificateChain": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
    ),
    (
        "InstallCertificate",
        {
            "certificateType": "V2GRootCertificate",
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        },
    ),
    (
        "DeleteCertificate",
        {
            "certificateHashData": {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "aa",
                "issuerKeyHash": "bb",
                "serialNumber": "01",
            }
        },
    ),
    ("GetInstalledCertificateIds", {}),
    (
        "GetLog",
        {
            "logType": "DiagnosticsLog",
            "requestId": 2,
            "log": {"remoteLocation": "https://logs.example/upload"},
        },
    ),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping"}),
]


async def boot(peer, version: str = "2.0.1"):
    module = call if version == "2.0.1" else call21
    return await peer.call(
        module.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "Acme"}, reason="PowerUp"
        )
    )


async def test_tc_b_01_boot_status_authorize_and_a_full_transaction(database_url):
    """TC_B_01_CSMS, TC_C_02_CSMS, TC_E_01_CSMS-like flow with the independent peer: boot,
    connector status, authorize, Started / Updated / Ended with meter values, all stored."""
    async with interop_node(database_url) as (node, bridge):
        register(database_url, "IOP1")
        with connect(database_url) as conn:
            tokens.upsert_id_token(conn, "TAG1", "ISO14443")
            conn.commit()
        peer = await open_peer(bridge, node.ocpp_port, "IOP1")
        booted = await boot(peer)
        assert booted.status == "Accepted"
        await peer.call(
            call.StatusNotification(
                timestamp=NOW, connector_status="Available", evse_id=1, connector_id=1
            )
        )
        auth = await peer.call(call.Authorize(id_token={"id_token": "TAG1", "type": "ISO14443"}))
        assert auth.id_token_info["status"] == "Accepted"
        unknown = await peer.call(call.Authorize(id_token={"id_token": "X", "type": "ISO14443"}))
        assert unknown.id_token_info["status"] == "Invalid"

        def event(seq: int, kind: str, wh: float) -> call.TransactionEvent:
            return call.TransactionEvent(
                event_type=kind,
                timestamp=NOW,
                seq_no=seq,
                trigger_reason="Authorized" if kind == "Started" else "MeterValuePeriodic",
                transaction_info={"transaction_id": "iop-tx"},
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "TAG1", "type": "ISO14443"} if kind == "Started" else None,
                meter_value=[{"timestamp": NOW, "sampled_value": [{"value": wh}]}],
            )

        started = await peer.call(event(0, "Started", 0))
        assert started.id_token_info["status"] == "Accepted"
        await peer.call(event(1, "Updated", 1200))
        await peer.call(event(2, "Ended", 2500))
        await peer.call(
            call.MeterValues(
                evse_id=1, meter_value=[{"timestamp": NOW, "sampled_value": [{"value": 2500}]}]
            )
        )
        beat = await peer.call(call.Heartbeat())
        assert beat.current_time
        with connect(database_url) as conn:
            events = conn.execute(
                "SELECT event_type FROM transaction_events ORDER BY seq_no"
            ).fetchall()
            meters = conn.execute("SELECT count(*) FROM meter_values").fetchone()
        assert [e for (e,) in events] == ["Started", "Updated", "Ended"]
        assert meters == (4,)
        await peer.close()


@pytest.mark.parametrize(("action", "payload"), COMMANDS, ids=[a for a, _ in COMMANDS])
async def test_every_command_reaches_the_ocpp_package_station(database_url, action, payload):
    """SPEC section 5: each command goes out schema-valid (the package would refuse it
    otherwise) and its answer comes back."""
    async with interop_node(database_url) as (node, bridge):
        register(database_url, "IOP2")
        peer = await open_peer(bridge, node.ocpp_port, "IOP2")
        await boot(peer)
        ref = node.stations.registry.lookup("IOP2")
        result = await ref.ask(SendCommand(action, payload, requested_by="test"), timeout=15)
        assert result.action == action
        assert [a for a, _ in peer.received] == [action]
        assert result.response
        await peer.close()


async def test_ocpp21_station_boots_transacts_and_answers_commands(database_url):
    async with interop_node(database_url) as (node, bridge):
        register(database_url, "IOP21")
        peer = await open_peer(bridge, node.ocpp_port, "IOP21", version="ocpp2.1")
        booted = await boot(peer, "2.1")
        assert booted.status == "Accepted"
        await peer.call(
            call21.TransactionEvent(
                event_type="Started",
                timestamp=NOW,
                seq_no=0,
                trigger_reason="CablePluggedIn",
                transaction_info={"transaction_id": "tx21"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        ref = node.stations.registry.lookup("IOP21")
        snapshot = await ref.ask(GetSnapshot(), timeout=5)
        assert snapshot.version == "ocpp2.1"
        assert [t.transaction_id for t in snapshot.transactions] == ["tx21"]
        result = await ref.ask(SendCommand("Reset", {"type": "Immediate"}), timeout=15)
        assert result.response == {"status": "Accepted"}
        await peer.close()
