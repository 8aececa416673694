"""The Host header check, whether or not authentication is on.

A web page on another site can make a browser send requests to a server on the user's own
machine by pointing a name it controls at 127.0.0.1 (DNS rebinding); the request then
carries that name in its Host header. Only the names and addresses the server is known by
are answered; any other Host gets 403.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from trackledger.api.errors import error_response

__all__ = ["HostCheck", "default_allowed_hosts", "parse_list"]

_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_WILDCARD_BINDS = ("0.0.0.0", "::", "")


def parse_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def default_allowed_hosts(bind_host: str) -> list[str]:
    """The host it listens on and localhost; listening on every interface, also the
    machine's names and addresses."""
    hosts = [bind_host, *_LOOPBACK] if bind_host not in _WILDCARD_BINDS else list(_LOOPBACK)
    if bind_host in _WILDCARD_BINDS:
        name = socket.gethostname()
        hosts += [name, socket.getfqdn()]
        try:
            hosts += [str(info[4][0]) for info in socket.getaddrinfo(name, None)]
        except OSError:
            pass
    return list(dict.fromkeys(h.lower() for h in hosts if h))


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:5000`` -> ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class HostCheck:
    """403 for a request whose Host header is not one of ``allowed`` (``*``: any)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        names = {h.lower().strip("[]") for h in allowed}
        self.any = "*" in names
        self.allowed = frozenset(names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = ""
        for key, value in scope.get("headers", ()):
            if key == b"host":
                host = value.decode("latin-1")
                break
        if host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        response = error_response(
            "PERMISSION_DENIED",
            f"Host {host!r} is not one this server answers to; start it with "
            "--allowed-hosts naming it (DNS rebinding protection).",
            403,
        )
        await response(scope, receive, send)
