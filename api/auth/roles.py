"""MLflow 3.17's role endpoints (``/api/3.0/mlflow/roles/...``), for teams: a role holds
permissions (a resource type, an id or ``*``, a level) and users are assigned to it.

This server has one workspace, ``default``: roles are created there (MLflow's client passes
the workspace explicitly).
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.auth.common import caller, integer, required, run_auth_command, state
from trackledger.api.auth.grants import resource_key
from trackledger.api.auth.users import find_user, role_json
from trackledger.api.errors import ApiError
from trackledger.api.wire import read
from trackledger.eventlog import auth_commands as c
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import AuthRef
from trackledger.projections.auth_reads import AuthReads, RoleView

__all__ = ["routes"]

_EMPTY = render.json_response({})


class RoleRequest(msgspec.Struct):
    role_id: int | str | None = None
    role_permission_id: int | str | None = None
    name: str | None = None
    workspace: str | None = None
    description: str | None = None
    resource_type: str | None = None
    resource_pattern: str | None = None
    permission: str | None = None
    username: str | None = None


def _reads(request: Request) -> AuthReads:
    reads: AuthReads = request.app.state.backend.auth
    return reads


async def _role(request: Request, role_id: int) -> RoleView:
    found = await _reads(request).role(role_id)
    if found is None:
        raise NotFound(f"Role with id={role_id} not found")
    return found


async def _params(request: Request) -> RoleRequest:
    state(request)
    return await read(request, RoleRequest, lists=frozenset())


async def create(request: Request) -> Response:
    req = await _params(request)
    name = required(req.name, "name")
    workspace = required(req.workspace, "workspace")
    if req.description is not None and not isinstance(req.description, str):
        raise ApiError("INVALID_PARAMETER_VALUE", "Role description must be a string or null.")
    result = await run_auth_command(
        request, c.CreateRole(name=name, workspace=workspace, description=req.description)
    )
    assert isinstance(result, AuthRef)
    return render.json_response({"role": role_json(await _role(request, result.id))})


async def get(request: Request) -> Response:
    req = await _params(request)
    role = await _role(request, integer(req.role_id, "role_id"))
    return render.json_response({"role": role_json(role)})


async def list_roles(request: Request) -> Response:
    state(request)
    workspaces = [w for w in request.query_params.getlist("workspace")]
    if any(not w.strip() for w in workspaces):
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            "Parameter 'workspace' must be a non-empty string when provided.",
        )
    roles = await _reads(request).roles(workspaces or None)
    return render.json_response({"roles": [role_json(r) for r in roles]})


async def update(request: Request) -> Response:
    req = await _params(request)
    role_id = integer(req.role_id, "role_id")
    if req.name is not None and not req.name.strip():
        raise ApiError("INVALID_PARAMETER_VALUE", "Role name cannot be empty.")
    await run_auth_command(
        request, c.UpdateRole(role_id=role_id, name=req.name, description=req.description)
    )
    return render.json_response({"role": role_json(await _role(request, role_id))})


async def delete(request: Request) -> Response:
    req = await _params(request)
    await run_auth_command(request, c.DeleteRole(role_id=integer(req.role_id, "role_id")))
    return _EMPTY


async def _permission_json(request: Request, permission_id: int) -> dict[str, object]:
    found = await _reads(request).role_permission(permission_id)
    if found is None:
        raise NotFound(f"Role permission with id={permission_id} not found")
    return msgspec.to_builtins(found)  # type: ignore[no-any-return]


async def add_permission(request: Request) -> Response:
    req = await _params(request)
    resource_type = required(req.resource_type, "resource_type")
    command = c.AddRolePermission(
        role_id=integer(req.role_id, "role_id"),
        resource_type=resource_type,
        # A registered model's grants hold its id, not its name (grants.resource_key).
        resource_pattern=await resource_key(
            request, resource_type, required(req.resource_pattern, "resource_pattern")
        ),
        permission=required(req.permission, "permission"),
    )
    result = await run_auth_command(request, command)
    assert isinstance(result, AuthRef)
    return render.json_response({"role_permission": await _permission_json(request, result.id)})


async def remove_permission(request: Request) -> Response:
    req = await _params(request)
    permission_id = integer(req.role_permission_id, "role_permission_id")
    await run_auth_command(request, c.RemoveRolePermission(role_permission_id=permission_id))
    return _EMPTY


async def list_permissions(request: Request) -> Response:
    req = await _params(request)
    role = await _role(request, integer(req.role_id, "role_id"))
    return render.json_response(
        {"role_permissions": [msgspec.to_builtins(p) for p in role.permissions]}
    )


async def update_permission(request: Request) -> Response:
    req = await _params(request)
    permission_id = integer(req.role_permission_id, "role_permission_id")
    command = c.ChangeRolePermission(
        role_permission_id=permission_id, permission=required(req.permission, "permission")
    )
    await run_auth_command(request, command)
    return render.json_response({"role_permission": await _permission_json(request, permission_id)})


async def assign(request: Request) -> Response:
    req = await _params(request)
    username = required(req.username, "username")
    role_id = integer(req.role_id, "role_id")
    result = await run_auth_command(request, c.AssignRole(username=username, role_id=role_id))
    assert isinstance(result, AuthRef)
    user = await find_user(request, username)
    return render.json_response(
        {"assignment": {"id": result.id, "user_id": user.user_id, "role_id": role_id}}
    )


async def unassign(request: Request) -> Response:
    req = await _params(request)
    username = required(req.username, "username")
    role_id = integer(req.role_id, "role_id")
    await run_auth_command(request, c.UnassignRole(username=username, role_id=role_id))
    return _EMPTY


async def user_roles(request: Request) -> Response:
    caller(request)
    req = await _params(request)
    user = await find_user(request, req.username)
    roles = await _reads(request).user_roles(user.user_id)
    return render.json_response({"roles": [role_json(r) for r in roles]})


async def role_users(request: Request) -> Response:
    req = await _params(request)
    role = await _role(request, integer(req.role_id, "role_id"))
    assignments = await _reads(request).role_users(role.id)
    return render.json_response({"assignments": [msgspec.to_builtins(a) for a in assignments]})


#: Under /api/3.0/mlflow and /ajax-api/3.0/mlflow.
routes = [
    Route("/roles/create", create, methods=["POST"]),
    Route("/roles/get", get, methods=["GET"]),
    Route("/roles/list", list_roles, methods=["GET"]),
    Route("/roles/update", update, methods=["PATCH"]),
    Route("/roles/delete", delete, methods=["DELETE"]),
    Route("/roles/permissions/add", add_permission, methods=["POST"]),
    Route("/roles/permissions/remove", remove_permission, methods=["DELETE"]),
    Route("/roles/permissions/list", list_permissions, methods=["GET"]),
    Route("/roles/permissions/update", update_permission, methods=["PATCH"]),
    Route("/roles/assign", assign, methods=["POST"]),
    Route("/roles/unassign", unassign, methods=["DELETE"]),
    Route("/roles/users/list", role_users, methods=["GET"]),
    Route("/users/roles/list", user_roles, methods=["GET"]),
]
