"""The embedded nats-server: `csms serve --nats embedded` (or ``[nats] embedded = true``) starts
one with JetStream in the data directory, the node mirrors to it, and it stops with the node."""

from __future__ import annotations

import pathlib

import pytest

from csms.cli import _parser, _settings
from csms.config import ConfigError, load_settings
from csms.domain.events import StationConnected
from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.transport.nats_server import EmbeddedNats, nats_server_binary
from tests.api.conftest import node_settings
from tests.nats_server import NatsPeer


async def test_a_node_with_embedded_nats_starts_it_in_its_data_directory(
    database_url: str, tmp_path: pathlib.Path
) -> None:
    settings = node_settings(
        database_url, **{"nats.embedded": True, "database.data_dir": str(tmp_path)}
    )
    thread = AsyncioThread(name="peer")
    await thread.start()
    try:
        async with open_node(settings) as node:
            url = node.settings.nats.url
            assert url is not None
            assert url.startswith("nats://127.0.0.1:")
            node.events.publish(StationConnected(station_id="CP1", version="ocpp2.1"))
            peer = NatsPeer(thread, url)
            await peer.run(peer.connect)
            got = await peer.run(peer.collect, "csms.events.>", 1)
            assert got[0].subject == "csms.events.CP1.station.connected"
            await peer.run(peer.close)
        assert (tmp_path / "nats" / "jetstream").is_dir()
    finally:
        await thread.stop()
    # stopped with the node: nothing listens on its port any more
    server = EmbeddedNats(tmp_path / "other")
    server.port = int(url.rsplit(":", 1)[1])
    assert server.start().endswith(f":{server.port}")  # the port is free again
    server.stop()


def test_serve_nats_option() -> None:
    args = _parser().parse_args(["serve", "--nats", "embedded"])
    assert _settings(args).nats.embedded is True
    args = _parser().parse_args(["serve", "--nats", "nats://10.0.0.5:4222"])
    assert _settings(args).nats.url == "nats://10.0.0.5:4222"
    assert _settings(_parser().parse_args(["serve"])).nats.embedded is False


def test_nats_settings_are_checked() -> None:
    env = {"NATS_URL": "nats://h:4222"}
    assert load_settings(env=env).nats.url == "nats://h:4222"
    with pytest.raises(ConfigError, match=r"nats\.embedded"):
        load_settings(env=env, overrides={"nats.embedded": True})
    with pytest.raises(ConfigError, match=r"nats\.prefix"):
        load_settings(env={}, overrides={"nats.prefix": "a.*.b"})
    with pytest.raises(ConfigError, match=r"nats\.retention"):
        load_settings(env={}, overrides={"nats.retention": "forever"})


def test_the_server_binary_is_the_packaged_one() -> None:
    assert nats_server_binary().name == "nats-server"
