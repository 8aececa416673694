"""The web UI's login: a session cookie, and the CSRF token that must come with changes.

``POST /api/2.0/trackledger/auth/login {"username", "password"}`` checks the password (rate
limited like every login) and starts a session: a token of kind ``session`` (stored hashed,
an event in the user's stream, so logins show in the audit log), valid ``SESSION_HOURS``.
The browser keeps it in an HttpOnly, SameSite=Strict cookie that scripts cannot read; the
answer also carries a CSRF token, which the UI sends back in ``X-CSRF-Token`` on every
request that changes something (the guard refuses such a request without it).
``POST .../auth/logout`` revokes the session and clears the cookie.
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from trackledger.api import render
from trackledger.api.auth.common import run_auth_command, state
from trackledger.api.auth.credentials import (
    SESSION_COOKIE,
    cookie,
    csrf_token,
    headers_of,
    refusal_response,
)
from trackledger.api.auth.principal import PRINCIPAL, Principal
from trackledger.api.errors import ApiError
from trackledger.api.wire import read
from trackledger.eventlog.auth_commands import CreateToken, RevokeToken
from trackledger.services import secrets as keys

__all__ = ["login", "logout"]

SESSION_HOURS = 12


class LoginRequest(msgspec.Struct):
    username: str | None = None
    password: str | None = None


def _user_json(principal: Principal) -> dict[str, object]:
    return {"id": principal.user_id, "username": principal.username, "is_admin": principal.is_admin}


async def status(request: Request) -> Response:
    """Whether this server authenticates (public): the UI asks before it asks who is in."""
    return render.json_response({"enabled": request.app.state.auth is not None})


async def login(request: Request) -> Response:
    auth = state(request)
    req = await read(request, LoginRequest)
    if not req.username or not req.password:
        raise ApiError("INVALID_PARAMETER_VALUE", "Give a username and a password.")
    client = request.client
    verified = await auth.authenticator.check_password(
        request.app.state.backend.auth, req.username, req.password, client.host if client else "-"
    )
    if not isinstance(verified, Principal):
        return refusal_response(verified, {"x-trackledger-ui": "1"})
    token, token_id, token_hash = keys.new_token()
    expires = time.time_ns() // 1_000_000 + SESSION_HOURS * 3_600_000
    request.scope[PRINCIPAL] = verified
    await run_auth_command(
        request,
        CreateToken(
            username=verified.username,
            token_id=token_id,
            name="browser session",
            token_hash=token_hash,
            expires_at=expires,
            kind="session",
        ),
    )
    csrf = csrf_token(token)
    response = render.json_response({"user": _user_json(verified), "csrf_token": csrf})
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


async def logout(request: Request) -> Response:
    auth = state(request)
    session = cookie(headers_of(request.scope).get("cookie", ""), SESSION_COOKIE)
    parsed = keys.parse_token(session) if session else None
    if parsed is not None:
        found = await request.app.state.backend.auth.token_credentials(parsed[0])
        if (
            found is not None
            and found.kind == "session"
            and keys.verify_token_secret(parsed[1], found.token_hash)
        ):
            request.scope[PRINCIPAL] = Principal(
                user_id=found.user_id,
                username=found.username,
                is_admin=found.is_admin,
                via="session",
            )
            await run_auth_command(
                request, RevokeToken(username=found.username, token_id=found.token_id)
            )
    auth.invalidate()
    response = render.json_response({})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
