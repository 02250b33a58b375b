"""Two nodes behind HAProxy, the configuration of docs/SCALING.md: TCP mode, ``balance
leastconn``, no stickiness, health by ``GET /readyz``. Stations connect through the load
balancer, land on both nodes, and are each commanded through node A's REST API (SPEC
section 9). Needs the ``haproxy`` binary (``apt-get install haproxy``)."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import socket
import subprocess
from collections.abc import Iterator

import trio

from csms.actors import Node
from csms.runtime import AsyncioThread
from csms.transport.nats_server import EmbeddedNats
from tests.api.chargepoint import connect_charge_point
from tests.api.conftest import PASSWORD, client
from tests.nats.test_cluster import held_by, two_nodes, until

CONFIG = """\
global
    maxconn 1000
    stats socket {directory}/admin.sock mode 600 level admin

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend ocpp
    bind 127.0.0.1:{port}
    default_backend csms

backend csms
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


def haproxy_config(directory: pathlib.Path, port: int, nodes: dict[str, Node]) -> str:
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{node.ocpp_port} check port "
        f"{node.http_addresses[0][1]} inter 200ms"
        for name, node in nodes.items()
    )
    return CONFIG.format(directory=directory, port=port, servers=servers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def haproxy(directory: pathlib.Path, config: str) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("haproxy")
    assert binary is not None, "haproxy is not installed (apt-get install haproxy)"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "haproxy.cfg"
    path.write_text(config)
    subprocess.run([binary, "-c", "-q", "-f", str(path)], check=True)  # the config is valid
    process = subprocess.Popen([binary, "-db", "-f", str(path)], stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def servers_up(directory: pathlib.Path) -> set[str]:
    """The backend servers HAProxy's health checks (GET /readyz) found UP (its stats socket)."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(directory / "admin.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:  # not listening yet
        return set()
    rows = [line.split(",") for line in data.decode().splitlines() if line.startswith("csms,")]
    return {row[1] for row in rows if row[1] != "BACKEND" and row[17].startswith("UP")}


async def test_stations_through_haproxy_reach_both_nodes_and_any_node_commands_them(
    database_url: str,
    nats: EmbeddedNats,
    admin_env: str,
    bridge: AsyncioThread,
    tmp_path: pathlib.Path,
) -> None:
    async with two_nodes(database_url, nats) as (a, b), client(a) as api:
        stations = ["CP-LB-1", "CP-LB-2"]
        for station in stations:
            r = await api.post("/api/v1/stations", json={"id": station, "password": PASSWORD})
            assert r.status_code == 201, r.text
        port, directory = free_port(), tmp_path / "haproxy"
        config = haproxy_config(directory, port, {"node-a": a, "node-b": b})
        with haproxy(directory, config):
            up: set[str] = set()

            def both_up() -> bool:
                up.update(servers_up(directory))
                return up == {"node-a", "node-b"}

            await until(both_up)
            # leastconn: the second station goes to the node without a connection
            cps = []
            for station in stations:
                cp = await connect_charge_point(bridge, port, station, PASSWORD)
                assert (await cp.boot()).status == "Accepted"
                cps.append(cp)
            holders = {
                station: "node-a" if a.stations.registry.lookup(station) else "node-b"
                for station in stations
            }
            assert sorted(holders.values()) == ["node-a", "node-b"]
            for station in stations:
                holder = a if holders[station] == "node-a" else b
                await held_by(holder, station, seen_from=a)

            for station, cp in zip(stations, cps, strict=True):  # both through node A
                r = await api.post(f"/api/v1/devices/{station}/reset", json={"type": "OnIdle"})
                assert r.status_code == 200, r.text
                assert cp.received == [("Reset", {"type": "OnIdle"})]
            for cp in cps:
                await cp.close()
        await trio.lowlevel.checkpoint()
