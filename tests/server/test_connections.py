"""Silent, slow and too many connections do not stop the server (issue: 1,100 silent
connections at a 1,024-file limit left /health unanswered for 60 s)."""

from __future__ import annotations

import socket
import time

import pytest

from tests import loopback
from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


class LimitedServer(ServerProcess):
    """A server whose process may open at most 1,024 files, soft and hard."""

    def command(self) -> list[str]:
        return ["prlimit", "--nofile=1024:1024", "--", *super().command()]


def _silent_connections(port: int, count: int) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        opened.append(sock)
    return opened


def test_health_answers_while_more_silent_connections_than_files_are_open(tmp_path):
    server = LimitedServer(tmp_path).start()
    squatters = _silent_connections(server.port, 1_100)
    try:
        time.sleep(1.0)  # let the server accept them
        started = time.monotonic()
        response = loopback.get(f"{server.url}/health", timeout=10)
        took = time.monotonic() - started
        assert response.status_code == 200 and response.text == "OK"
        print(f"/health with 1,100 silent connections open: {took * 1000:.0f} ms")
        assert "connection cap reached" in server.log.read_text()
    finally:
        for sock in squatters:
            sock.close()
        server.stop()


def test_a_request_head_that_never_finishes_is_closed(tmp_path):
    server = ServerProcess(tmp_path, None, "--head-timeout-seconds", "1").start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /hea")
            received = b""
            while chunk := sock.recv(4096):  # the server closes: recv returns b""
                received += chunk
        assert received.startswith(b"HTTP/1.1 408")
        assert b'"error_code": "BAD_REQUEST"' in received
        # Whole requests on keep-alive connections still work.
        with loopback.client(base_url=server.url) as client:
            for _ in range(3):
                assert client.get("/health").status_code == 200
    finally:
        server.stop()
