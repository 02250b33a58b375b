"""The EV's capability per EV (SPEC section 6): a 2.1 station sends the EV's EVCCID with
its id token (Q01.FR.02, ``additionalInfo`` type EVCCID); the needs that follow are stored in
``v2g_capabilities`` under that EVCCID. An `ocpp`-package station against a whole node."""

from __future__ import annotations

from ocpp.v21 import call as call21

from csms.storage import connect as db_connect

from .test_v2x_station import TOKEN, ac_needs, start_transaction, v2x_station

EVCCID = "00:11:22:33:44:55"


def stored_ev_ids(database_url: str, station_id: str) -> list[str]:
    with db_connect(database_url) as conn:
        rows = conn.execute(
            "SELECT ev_id FROM v2g_capabilities WHERE station_id = %s ORDER BY updated_at",
            (station_id,),
        ).fetchall()
    return [row[0] for row in rows]


async def test_the_evccid_of_the_authorize_names_the_evs_capability(database_url):
    """Q01.FR.02: Authorize (and TransactionEvent Started) carry the EVCCID; the EV's needs
    are stored per EV, the EVCCID its ev_id."""
    token = {**TOKEN, "additional_info": [{"additional_id_token": EVCCID, "type": "EVCCID"}]}
    async with v2x_station(database_url, "V2XID") as (_node, _bridge, peer):
        answer = await peer.call(call21.Authorize(id_token=token))
        assert answer.id_token_info["status"] == "Accepted"
        await start_transaction(peer, token, "tx-evccid")
        assert (await peer.call(ac_needs(["AC_three_phase", "AC_BPT"]))).status == "Accepted"
        assert stored_ev_ids(database_url, "V2XID") == [EVCCID]
