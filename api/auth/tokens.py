"""Access tokens for machines: ``/api/2.0/trackledger/tokens/{create,list,revoke}``.

A user creates named tokens for themself; the token is shown once, in the answer to create,
and stored only as a hash. A CI job sends it as ``MLFLOW_TRACKING_TOKEN`` (``Authorization:
Bearer``) and acts as that user. Tokens expire after ``expires_in_days`` (default 90).
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.auth.common import caller, required, run_auth_command
from trackledger.api.errors import ApiError
from trackledger.api.wire import read
from trackledger.eventlog.auth_commands import CreateToken, RevokeToken
from trackledger.projections.auth_reads import AuthReads, TokenView
from trackledger.services import secrets as keys

__all__ = ["routes"]

DEFAULT_DAYS = 90
MAX_DAYS = 3650


class TokenRequest(msgspec.Struct):
    name: str | None = None
    expires_in_days: float | None = None
    token_id: str | None = None
    id: str | None = None


def _json(token: TokenView) -> dict[str, object]:
    return {
        "id": token.token_id,
        "name": token.name,
        "created_time": token.created_time,
        "expires_at": token.expires_at,
    }


def _reads(request: Request) -> AuthReads:
    reads: AuthReads = request.app.state.backend.auth
    return reads


async def create(request: Request) -> Response:
    me = caller(request)
    req = await read(request, TokenRequest)
    days = DEFAULT_DAYS if req.expires_in_days is None else req.expires_in_days
    if not 0 < days <= MAX_DAYS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {days} for parameter 'expires_in_days': use more than 0 and at "
            f"most {MAX_DAYS}.",
        )
    token, token_id, token_hash = keys.new_token()
    expires_at = time.time_ns() // 1_000_000 + int(days * 86_400_000)
    await run_auth_command(
        request,
        CreateToken(
            username=me.username,
            token_id=token_id,
            name=required(req.name, "name"),
            token_hash=token_hash,
            expires_at=expires_at,
        ),
    )
    found = [t for t in await _reads(request).tokens(me.user_id) if t.token_id == token_id]
    return render.json_response({"token": token, "token_info": _json(found[0])})


async def list_tokens(request: Request) -> Response:
    me = caller(request)
    tokens = await _reads(request).tokens(me.user_id)
    return render.json_response({"tokens": [_json(t) for t in tokens]})


async def revoke(request: Request) -> Response:
    me = caller(request)
    req = await read(request, TokenRequest)
    token_id = required(req.token_id or req.id, "token_id")
    await run_auth_command(request, RevokeToken(username=me.username, token_id=token_id))
    return render.json_response({})


#: Under /api/2.0/trackledger.
routes = [
    Route("/tokens/create", create, methods=["POST"]),
    Route("/tokens/list", list_tokens, methods=["GET"]),
    Route("/tokens/revoke", revoke, methods=["POST"]),
]
