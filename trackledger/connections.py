"""Connections the server keeps: a cap well under the file limit, and no silent squatters.

uvicorn accepts every connection and keeps it until the client speaks or leaves. 1,100
connections that never send a byte used up a 1,024-file limit, and the server stopped
answering anyone, ``/health`` included. Here (uvicorn's httptools protocol, extended):

- a connection must finish its request head within ``head_timeout`` seconds of arriving or
  of its previous answer, or it is closed (slow or silent heads); idle keep-alive
  connections close after uvicorn's keep-alive timeout as before;
- at most ``max_connections`` are open: a new one beyond the cap closes the longest-idle
  connection (one with no request in progress), so a real client gets through while idle
  sockets pile up; if every connection is busy, the newcomer gets a 503 and is closed at
  once, never queued. Reaching the cap is logged (at most every 10 s).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GuardedProtocol", "configure", "open_connections", "raise_file_limit"]

log = logging.getLogger("trackledger.connections")



def _answer(status: bytes, code: str, message: str, *headers: bytes) -> bytes:
    """A whole HTTP response in MLflow's error shape, closing the connection."""
    body = f'{{"error_code": "{code}", "message": "{message}"}}'.encode()
    head = [b"HTTP/1.1 " + status, b"content-type: application/json", *headers]
    head += [b"connection: close", b"content-length: " + str(len(body)).encode()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


_BUSY = _answer(
    b"503 Service Unavailable",
    "TEMPORARILY_UNAVAILABLE",
    "The server has too many connections; try again.",
    b"retry-after: 1",
)
_SLOW = _answer(b"408 Request Timeout", "BAD_REQUEST", "The request head did not arrive in time.")


def raise_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def configure(max_connections: int, head_timeout: float) -> int:
    """Set the cap (0: half the open-file limit) and the head timeout; return the cap."""
    if max_connections <= 0:
        max_connections = max(64, raise_file_limit() // 2)
    GuardedProtocol.max_connections = max_connections
    GuardedProtocol.head_timeout = head_timeout
    return max_connections


def open_connections() -> int:
    return GuardedProtocol.open


class GuardedProtocol(HttpToolsProtocol):
    max_connections: ClassVar[int] = 1_000
    head_timeout: ClassVar[float] = 10.0
    #: Connections open in this process (for /metrics).
    open: ClassVar[int] = 0
    _last_warning: ClassVar[float] = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        over = len(self.connections) >= self.max_connections
        victim = self._longest_idle() if over else None
        super().connection_made(transport)
        GuardedProtocol.open += 1
        if over:
            self._warn_cap()
            if victim is None:
                transport.write(_BUSY)
                transport.close()
                return
            victim.transport.close()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        GuardedProtocol.open -= 1
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def _busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _longest_idle(self) -> GuardedProtocol | None:
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedProtocol) and not c._busy() and not c.transport.is_closing()
        ]
        return min(idle, key=lambda c: c._idle_since, default=None)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and not self._busy():
            self.transport.write(_SLOW)
            self.transport.close()

    @classmethod
    def _warn_cap(cls) -> None:
        now = time.monotonic()
        if now - cls._last_warning >= 10.0:
            cls._last_warning = now
            log.warning(
                "connection cap reached (%d open): closing the longest-idle connection for "
                "each new one (--max-connections)",
                cls.max_connections,
            )
