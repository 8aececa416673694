"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio streams.

The server and the generator share the machine, so the generator must cost little: a
request is one write of prepared bytes and one read of a Content-Length body, with no HTTP
library in between. It only ever connects to 127.0.0.1, and every loop is bounded both in
requests and in seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

__all__ = ["Connection", "Planned", "Result", "run_workers"]

HOST = "127.0.0.1"


class Connection:
    """One keep-alive connection to 127.0.0.1:port."""

    #: Header lines every request carries (``Authorization: ...\r\n`` for a server with
    #: authentication on).
    extra_headers = ""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(HOST, self.port)

    async def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send ``body`` as JSON, or ``raw`` bytes with ``headers`` (their content type)."""
        if self._writer is None or self._reader is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        payload = raw if raw is not None else b"" if body is None else orjson.dumps(body)
        fields = {"Content-Type": "application/json", **(headers or {})}
        extra = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"{self.extra_headers}{extra}Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self._writer.write(head + payload)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked = False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self._reader.readline()).strip(), 16)
                if size == 0:
                    await self._reader.readline()
                    break
                data += await self._reader.readexactly(size)
                await self._reader.readline()
            return status, data
        return status, await self._reader.readexactly(length) if length else b""

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self._writer = None


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    points: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


class Planned(NamedTuple):
    """One request a worker sends; ``on_ok`` receives the body of a 200 answer."""

    method: str
    path: str
    body: object | None
    points: int
    on_ok: Callable[[bytes], None] | None = None
    #: A body that is not JSON (``body`` is then ignored), and its headers.
    raw: bytes | None = None
    headers: dict[str, str] | None = None


#: A worker's step: given (worker, iteration), the next request, or None when it is done.
Step = Callable[[int, int], Planned | None]


async def run_workers(
    port: int | Sequence[int],
    workers: int,
    step: Step,
    *,
    seconds: float,
    max_requests: int,
) -> Result:
    """Run ``workers`` concurrent loops of ``step`` for at most ``seconds`` and at most
    ``max_requests`` requests in all; each worker holds one keep-alive connection, to
    ``port``, or to the ports in turn (worker i to the i-th, modulo their number)."""
    ports = [port] if isinstance(port, int) else list(port)
    result = Result()
    deadline = time.perf_counter() + seconds
    budget = [max_requests]

    async def worker(index: int) -> None:
        conn = Connection(ports[index % len(ports)])
        iteration = 0
        try:
            while time.perf_counter() < deadline and budget[0] > 0:
                planned = step(index, iteration)
                if planned is None:
                    return
                budget[0] -= 1
                started = time.perf_counter()
                try:
                    status, data = await conn.request(
                        planned.method,
                        planned.path,
                        planned.body,
                        raw=planned.raw,
                        headers=planned.headers,
                    )
                except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                    result.errors += 1
                    if len(result.first_errors) < 3:
                        result.first_errors.append(repr(exc))
                    await conn.close()
                    iteration += 1
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.requests += 1
                if status == 200:
                    result.points += planned.points
                    if planned.on_ok is not None:
                        planned.on_ok(data)
                else:
                    result.errors += 1
                    if len(result.first_errors) < 3:
                        result.first_errors.append(f"{status} {data[:200]!r}")
                iteration += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    result.seconds = time.perf_counter() - started
    return result
