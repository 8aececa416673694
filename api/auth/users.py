"""MLflow's user endpoints (basic-auth app), as ``AuthServiceClient`` calls them.

``/api/2.0/mlflow/users/{create,get,list,current,update-password,update-admin,delete}``;
who may call which is in ``table.py``. Passwords are hashed here, off the event loop, before
any command is built: no command or event holds one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.auth.common import caller, required, run_auth_command, state
from trackledger.api.auth.credentials import SESSION_COOKIE, cookie, csrf_token, headers_of
from trackledger.api.errors import ApiError
from trackledger.api.wire import read
from trackledger.eventlog.auth_commands import ChangePassword, CreateUser, DeleteUser, SetAdmin
from trackledger.eventlog.decide_auth import check_username
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.projections.auth_reads import AuthReads, RoleView, UserView
from trackledger.services import secrets as keys

__all__ = ["role_json", "routes", "user_json"]

_EMPTY = render.json_response({})


class UserRequest(msgspec.Struct):
    username: str | None = None
    password: str | None = None
    current_password: str | None = None
    is_admin: bool | str | None = None


def user_json(user: UserView) -> dict[str, Any]:
    return {"id": user.user_id, "username": user.username, "is_admin": user.is_admin}


def role_json(role: RoleView) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "workspace": role.workspace,
        "description": role.description,
        "permissions": [msgspec.to_builtins(p) for p in role.permissions],
    }


def _reads(request: Request) -> AuthReads:
    reads: AuthReads = request.app.state.backend.auth
    return reads


async def password_hash(password: str | None) -> str:
    """The stored form of a new password (MLflow's policy: at least 12 characters)."""
    try:
        keys.check_password_policy(password)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    assert password is not None
    return await asyncio.to_thread(keys.hash_password, password)


async def find_user(request: Request, username: str | None) -> UserView:
    name = required(username, "username")
    found = await _reads(request).user(name)
    if found is None:
        raise NotFound(f"User with username={name} not found")
    return found


async def create(request: Request) -> Response:
    state(request)
    req = await read(request, UserRequest)
    username = required(req.username, "username")
    check_username(username)
    hashed = await password_hash(required(req.password, "password"))
    await run_auth_command(request, CreateUser(username=username, password_hash=hashed))
    return render.json_response({"user": user_json(await find_user(request, username))})


async def get(request: Request) -> Response:
    state(request)
    req = await read(request, UserRequest)
    return render.json_response({"user": user_json(await find_user(request, req.username))})


async def list_users(request: Request) -> Response:
    me = caller(request)
    reads = _reads(request)
    users = []
    for user in await reads.users():
        visible = me.is_admin or me.user_id == user.user_id
        roles = await reads.user_roles(user.user_id) if visible else []
        users.append({**user_json(user), "roles": [role_json(r) for r in roles]})
    return render.json_response({"users": users})


async def current(request: Request) -> Response:
    me = caller(request)
    found = await find_user(request, me.username)
    body: dict[str, Any] = {"user": user_json(found), "is_basic_auth": me.via == "basic"}
    if me.via == "session":
        # For the web UI, which cannot read its HttpOnly cookie: the token to send back with
        # changes (another site's page cannot read this answer).
        session = cookie(headers_of(request.scope).get("cookie", ""), SESSION_COOKIE)
        body["csrf_token"] = csrf_token(session or "")
    return render.json_response(body)


async def update_password(request: Request) -> Response:
    me = caller(request)
    req = await read(request, UserRequest)
    username = required(req.username, "username")
    password = required(req.password, "password")
    if username == me.username:
        # Changing one's own password asks for the current one, so a stolen session or
        # token alone cannot take the account over.
        if not req.current_password:
            raise InvalidInput("Current password is required when changing your own password.")
        found = await _reads(request).credentials(username)
        if found is None or not await asyncio.to_thread(
            keys.verify_password, req.current_password, found.password_hash
        ):
            raise InvalidInput("Current password does not match.")
        if password == req.current_password:
            raise InvalidInput("New password must differ from the current password.")
    hashed = await password_hash(password)
    await run_auth_command(request, ChangePassword(username=username, password_hash=hashed))
    return _EMPTY


def _flag(value: bool | str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(
        "INVALID_PARAMETER_VALUE",
        "Missing value for required parameter 'is_admin'. See the API docs for more "
        "information about request parameters."
        if value is None
        else f"Invalid value {value!r} for parameter 'is_admin': use true or false.",
    )


async def update_admin(request: Request) -> Response:
    state(request)
    req = await read(request, UserRequest)
    username = required(req.username, "username")
    await run_auth_command(request, SetAdmin(username=username, is_admin=_flag(req.is_admin)))
    return _EMPTY


async def delete(request: Request) -> Response:
    me = caller(request)
    req = await read(request, UserRequest)
    username = required(req.username, "username")
    if username == me.username:
        raise ApiError(
            "BAD_REQUEST",
            "Users cannot delete their own account. Ask another admin to delete this user instead.",
        )
    await run_auth_command(request, DeleteUser(username=username))
    return _EMPTY


routes = [
    Route("/users/create", create, methods=["POST"]),
    Route("/users/get", get, methods=["GET"]),
    Route("/users/list", list_users, methods=["GET"]),
    Route("/users/current", current, methods=["GET"]),
    Route("/users/update-password", update_password, methods=["PATCH"]),
    Route("/users/update-admin", update_admin, methods=["PATCH"]),
    Route("/users/delete", delete, methods=["DELETE"]),
]
