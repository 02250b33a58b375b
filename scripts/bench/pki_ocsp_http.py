"""The HTTP part of a cold Plug & Charge Authorize: client CPU per OCSP POST on trio.

    python scripts/bench/pki_ocsp_http.py [--requests 2000] [--rounds 2]

A loopback HTTP/1.1 keep-alive responder (stdlib, its own process) answers every POST with a
900-byte body (an OCSP response's size). Measured in this process, one request at a time:

- ``httpx, one shared client``: what the certificates owner does (keep-alive pool of 10);
- ``httpx, a client per request``: what it would cost without the shared client;
- ``h11 on a trio stream``: the floor, HTTP/1.1 by hand on one kept-alive connection.
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this directory's ``http.py`` would shadow the standard library's ``http``
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

BODY = b"0" * 120
ANSWER = b"x" * 900
HEADERS = {"Content-Type": "application/ocsp-request"}


def serve(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def httpx_shared(url: str, n: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    async with httpx.AsyncClient(limits=limits) as client:
        for _ in range(n):
            response = await client.post(url, content=BODY, headers=HEADERS, timeout=5)
            assert response.status_code == 200
            assert len(response.content) == len(ANSWER)


async def httpx_per_request(url: str, n: int) -> None:
    import httpx

    for _ in range(n):
        async with httpx.AsyncClient() as client:
            response = await client.post(url, content=BODY, headers=HEADERS, timeout=5)
            assert response.status_code == 200


async def h11_floor(port: int, n: int) -> None:
    import h11
    import trio

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    headers = [
        ("Host", "127.0.0.1"),
        ("Content-Type", "application/ocsp-request"),
        ("Content-Length", str(len(BODY))),
    ]
    for _ in range(n):
        data = conn.send(h11.Request(method="POST", target="/ocsp", headers=headers)) or b""
        data += (conn.send(h11.Data(data=BODY)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        await stream.send_all(data)
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await stream.receive_some(65536))
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        assert len(body) == len(ANSWER)
        conn.start_next_cycle()
    await stream.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import trio

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(200):  # until the responder listens (at most 10 s)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/ocsp"
        n = args.requests
        cases: list[tuple[str, Callable[[], Awaitable[None]], int]] = [
            ("httpx, one shared client", lambda: httpx_shared(url, n), n),
            ("httpx, a client per request", lambda: httpx_per_request(url, n // 4), n // 4),
            ("h11 on a trio stream", lambda: h11_floor(port, n), n),
        ]
        for _ in range(args.rounds):
            for name, run, count in cases:
                before = cpu_seconds()
                trio.run(run)
                print(f"{name}: {1000 * (cpu_seconds() - before) / count:.2f} ms CPU per request")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
