"""The node under test as a child process (``csms serve``), so that a fault can SIGKILL it and
start it again on the same ports, database and data directory."""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import socket
import subprocess
import sys

import trio

__all__ = ["NodeProcess", "free_port", "rss_kib"]

log = logging.getLogger("csms.soak")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident memory of a process (Linux /proc), 0 when it is gone."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class NodeProcess:
    def __init__(
        self,
        *,
        database_url: str,
        data_dir: pathlib.Path,
        admin_token: str,
        nats_url: str | None = None,
        log_level: str = "WARNING",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.extra_env = extra_env or {}
        self.database_url = database_url
        self.data_dir = data_dir
        self.admin_token = admin_token
        self.nats_url = nats_url
        self.log_level = log_level
        self.ocpp_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ocpp_port}/ocpp"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kib(self) -> int:
        return rss_kib(self.pid) if self.process is not None else 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "CSMS_OCPP__HOST": "127.0.0.1",
            "CSMS_OCPP__PORT": str(self.ocpp_port),
            "CSMS_HTTP__HOST": "127.0.0.1",
            "CSMS_HTTP__PORT": str(self.http_port),
            "CSMS_LOG__LEVEL": self.log_level,
            "CSMS_ADMIN_TOKEN": self.admin_token,
            **self.extra_env,
        }
        env.pop("NATS_URL", None)
        if self.nats_url:
            env["NATS_URL"] = self.nats_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "soak.toml"
        config.write_text("[v2g.ccee]\nfetch = false  # no third party in a soak\n")
        command = [sys.executable, "-m", "csms.cli", "serve", "--config", str(config)]
        command += ["--data-dir", str(self.data_dir)]
        with open(self.data_dir / "node.log", "ab") as log_file:  # the child keeps its copy
            return subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_file,
            )

    async def start(self, timeout: float = 120.0) -> None:
        """Start ``csms serve`` and return once it says it runs (it listens then)."""
        process = self._spawn()
        self.process = process
        self.starts += 1
        stdout = process.stdout
        assert stdout is not None
        with trio.fail_after(timeout):
            while b"running" not in (line := await trio.to_thread.run_sync(stdout.readline)):
                if not line:
                    raise RuntimeError(
                        f"the node exited at start (status {process.wait()}), "
                        f"see {self.data_dir / 'node.log'}"
                    )
        log.info("node running", extra={"pid": process.pid, "start": self.starts})

    def kill(self) -> None:
        """SIGKILL, as a power cut of the node's machine would."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    async def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (the node flushes and stops in order); SIGKILL after ``timeout``."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(timeout):
                return await trio.to_thread.run_sync(process.wait)
            process.kill()
        return process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None
