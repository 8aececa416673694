"""Authentication and the route's rule, in front of every route's handler.

``install`` wraps each route of the app (walking mounts) in a ``Guard`` holding that route's
rules from ``table.RULES``; a route without a rule is for admins only. The guard:

1. authenticates the request (401 with ``WWW-Authenticate: Basic``, or 429 while a client
   is locked out for failed logins), unless the rule is public;
2. refuses a state-changing request authenticated by the session cookie alone unless it
   carries the CSRF header (browsers send the cookie on their own; scripts cannot set a
   custom header across origins);
3. checks the rule (403 PERMISSION_DENIED);
4. hands the handler the principal (the actor of its events) and, for users who are not
   admins, the backend as they may see it (``scope.py``).
"""

from __future__ import annotations

import copy
import hmac
import time
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from trackledger.api.auth.access import AccessControl
from trackledger.api.auth.credentials import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Authenticator,
    Refusal,
    cookie,
    csrf_token,
    headers_of,
    refusal_response,
)
from trackledger.api.auth.principal import PRINCIPAL, SCOPED_BACKEND, Principal
from trackledger.api.auth.rules import ADMIN, Context, Rule
from trackledger.api.auth.scope import ScopedBackend
from trackledger.api.auth.table import RULES, rule_key
from trackledger.api.errors import error_response
from trackledger.services.backends import Backend

__all__ = ["AuthState", "Guard", "install", "route_rules", "walk"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthState:
    """What the guard and the auth handlers share, on ``app.state.auth``."""

    def __init__(self, default_permission: str = "READ") -> None:
        self.authenticator = Authenticator()
        self.access = AccessControl(default_permission)

    def invalidate(self) -> None:
        """Users, tokens or grants changed: forget what was cached about them."""
        self.authenticator.invalidate()
        self.access.invalidate()


def _denied(message: str = "Permission denied.") -> Response:
    return error_response("PERMISSION_DENIED", message, 403)


class Guard:
    def __init__(self, app: ASGIApp, rules: dict[str, Rule]) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        rule = self.rules.get(method, ADMIN)
        if rule.public:
            await self.app(scope, receive, send)
            return
        state: AuthState = scope["app"].state.auth
        backend: Backend = scope["app"].state.backend
        headers = headers_of(scope)
        client = scope.get("client")
        address = client[0] if client else "-"
        verified = await state.authenticator.authenticate(
            backend.auth, headers, address, time.time_ns() // 1_000_000
        )
        if isinstance(verified, Refusal):
            await refusal_response(verified, headers)(scope, receive, send)
            return
        principal: Principal = verified
        if principal.via == "session" and method not in _SAFE_METHODS and not _csrf_ok(headers):
            await _denied("Missing or wrong CSRF token.")(scope, receive, send)
            return
        context = Context(
            scope, receive, principal, backend.auth, state.access, backend.registry
        )
        # A malformed request raises here as in its handler (the app's error handlers
        # answer it); the handler would have refused it just the same.
        allowed = await rule.check(context)
        if not allowed:
            await _denied(
                f"Permission denied: {principal.username} may not do this (needs {rule.text})."
            )(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        if not principal.is_admin:

            async def readable(resource_type: str) -> Any:
                return await state.access.readable(backend.auth, principal, resource_type)

            scope[SCOPED_BACKEND] = ScopedBackend(backend, readable)
        await self.app(scope, context.receive() if context.replays else receive, send)


def _csrf_ok(headers: dict[str, str]) -> bool:
    session = cookie(headers.get("cookie", ""), SESSION_COOKIE)
    sent = headers.get(CSRF_HEADER, "")
    if not session:
        return False
    return hmac.compare_digest(sent.encode(), csrf_token(session).encode())


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route with its full path template; a mount without routes (static files) as
    itself."""
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from walk(route.routes, prefix + route.path)
        elif isinstance(route, (Route, Mount)):
            yield prefix + route.path, route


def route_rules(app: Starlette) -> Iterator[tuple[str, str, Rule | None]]:
    """(method, path, rule or None) for every method of every route of ``app``."""
    for path, route in walk(app.routes):
        methods = sorted(route.methods or {"GET"}) if isinstance(route, Route) else ["GET"]
        for method in methods:
            if method == "HEAD":
                continue
            yield method, path, RULES.get(rule_key(method, path))


def _guarded(routes: list[BaseRoute], prefix: str = "") -> list[BaseRoute]:
    """Copies of ``routes`` with a guard in front of each (route objects are shared between
    apps and mounts, so they are copied, never changed)."""
    out: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            inner = _guarded(route.routes, prefix + route.path)
            out.append(Mount(route.path, routes=inner, name=route.name))
            continue
        if not isinstance(route, (Route, Mount)):
            out.append(route)
            continue
        path = prefix + route.path
        methods = sorted(route.methods or {"GET"}) if isinstance(route, Route) else ["GET"]
        rules = {m: RULES.get(rule_key(m, path), ADMIN) for m in methods if m != "HEAD"}
        if all(rule.public for rule in rules.values()):
            out.append(route)
            continue
        guarded = copy.copy(route)
        guarded.app = Guard(route.app, rules)
        out.append(guarded)
    return out


def install(app: Starlette) -> None:
    """Put a guard in front of every route of ``app``."""
    app.router.routes[:] = _guarded(app.router.routes)
