"""Four concurrent 100 MB request bodies do not grow the server (it took 884 MB before)."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.server.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BODY = 100 * 2**20


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _send_big_body(port: int, answers: list[bytes]) -> None:
    head = (
        f"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        f"content-type: application/json\r\ncontent-length: {BODY}\r\n\r\n"
    ).encode()
    chunk = b" " * 2**20
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        try:
            for _ in range(BODY // len(chunk)):
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while the body was still coming
        answers.append(sock.recv(65536))


def test_four_concurrent_100mb_bodies_stay_out_of_memory(tmp_path):
    server = ServerProcess(tmp_path).start()
    try:
        assert server.process is not None
        idle = _peak_rss_mb(server.process.pid)
        answers: list[bytes] = []
        threads = [
            threading.Thread(target=_send_big_body, args=(server.port, answers)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        peak = _peak_rss_mb(server.process.pid)
        print(f"peak RSS: idle {idle:.0f} MB, after four 100 MB bodies {peak:.0f} MB")
        assert len(answers) == 4
        assert all(a.startswith(b"HTTP/1.1 413") for a in answers), answers
        assert peak - idle < 100
    finally:
        server.stop()
