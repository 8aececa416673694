"""What the auth handlers share: the auth state, the caller, running a command, parameters."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from trackledger.api.auth.principal import Principal, principal_of
from trackledger.api.calls import execute
from trackledger.api.errors import ApiError
from trackledger.eventlog.commands import AnyCommand
from trackledger.eventlog.results import AnyResult

__all__ = ["caller", "integer", "required", "run_auth_command", "state"]


def state(request: Request) -> Any:
    """The app's AuthState; these endpoints exist only with authentication on."""
    found = getattr(request.app.state, "auth", None)
    if found is None:
        raise ApiError(
            "ENDPOINT_NOT_FOUND",
            f"{request.url.path} needs authentication, which is off on this server "
            "(start it with --auth).",
        )
    return found


def caller(request: Request) -> Principal:
    state(request)
    found = principal_of(request)
    if found is None:  # the guard always sets it for these routes
        raise ApiError("UNAUTHENTICATED", "You are not authenticated.", 401)
    return found


def required(value: Any, name: str) -> Any:
    if value is None or value == "":
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Missing value for required parameter '{name}'. See the API docs for more "
            "information about request parameters.",
        )
    return value


def integer(value: Any, name: str) -> int:
    required(value, name)
    if isinstance(value, bool):
        value = str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(
            "INVALID_PARAMETER_VALUE", f"Parameter '{name}' must be an integer. Got: {value!r}"
        ) from None


async def run_auth_command(request: Request, command: AnyCommand) -> AnyResult:
    """Execute a change to users, tokens, roles or grants as the caller; what was cached
    about them is forgotten at once in this process."""
    try:
        return await execute(request, command)
    finally:
        state(request).invalidate()
