"""The pages with 10,000 registered stations: the figures and the list stay right at that size
(the time they take is measured in docs, not asserted here)."""

from __future__ import annotations

import re

import httpx

from csms.storage import connect

from .conftest import ADMIN_TOKEN, sign_in

STATIONS = 10_000


def fill(database_url: str) -> None:
    """10,000 stations, a third of them "connected" to node-1, two connectors each, every
    hundredth with a Faulted connector; five models, four firmware versions."""
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO stations (id, registration_status, vendor_name, model,"
            " firmware_version, node_id, connected_since)"
            " SELECT 'S' || lpad(i::text, 5, '0'), 'Accepted', 'Acme', 'AC-' || (i %% 5),"
            " '1.' || (i %% 4), CASE WHEN i %% 3 = 0 THEN 'node-1' END,"
            " CASE WHEN i %% 3 = 0 THEN now() END FROM generate_series(1, %s) i",
            (STATIONS,),
        )
        conn.execute(
            "INSERT INTO evses (station_id, evse_id, connector_id, status, status_at)"
            " SELECT 'S' || lpad(i::text, 5, '0'), e, 1,"
            " CASE WHEN i %% 100 = 0 AND e = 1 THEN 'Faulted' ELSE 'Available' END, now()"
            " FROM generate_series(1, %s) i, generate_series(1, 2) e",
            (STATIONS,),
        )
        conn.commit()


async def test_overview_and_station_list_with_10000_stations(url, database_url):
    fill(database_url)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await sign_in(client, ADMIN_TOKEN)
        overview = await client.get("/")
        figures = dict(re.findall(r'data-figure="(\w+)">(\d+)<', overview.text))
        assert figures["online"] == "3333"
        assert figures["offline"] == "6667"
        assert figures["faulted"] == "100"
        listed = await client.get("/stations")
        assert 'data-figure="total">10000<' in listed.text
        assert len(re.findall(r'<tr data-station="', listed.text)) == 50
        last = await client.get("/stations", params={"offset": "9950"})
        assert re.findall(r'data-station="([^"]+)"', last.text)[-1] == "S10000"
        assert 'rel="next"' not in last.text
        faulted = await client.get(
            "/stations", params={"status": "faulted", "model": "AC-0", "firmware": "1.0"}
        )
        # i % 100 == 0 implies i % 5 == 0 and i % 4 == 0: every faulted station matches
        assert 'data-figure="total">100<' in faulted.text
        online = await client.get("/stations", params={"status": "online", "node": "node-1"})
        assert 'data-figure="total">3333<' in online.text
