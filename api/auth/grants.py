"""Per-user grants: MLflow 3.17's ``/api/3.0/mlflow/users/permissions/{grant,revoke,get,list}``
and ``users/current/permissions``, and the per-experiment endpoints of older clients
(``/api/2.0/mlflow/experiments/permissions/{create,get,update,delete}``) on the same grants.

A user's own grants show in listings as rows of the hidden role ``__user_<id>__``, as
MLflow shows them; ``role_id`` 0 marks them (they belong to no real role).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.auth.common import caller, required, run_auth_command, state
from trackledger.api.auth.users import find_user
from trackledger.api.errors import endpoint
from trackledger.api.wire import read
from trackledger.eventlog import access
from trackledger.eventlog.auth_commands import GrantPermission, RevokePermission
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.projections.auth_reads import AuthReads, UserView

__all__ = ["legacy_routes", "routes"]

_EMPTY = render.json_response({})


class GrantRequest(msgspec.Struct):
    username: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    permission: str | None = None
    experiment_id: str | None = None


def _reads(request: Request) -> AuthReads:
    reads: AuthReads = request.app.state.backend.auth
    return reads


async def _params(request: Request) -> GrantRequest:
    state(request)
    return await read(request, GrantRequest)


async def effective(request: Request, user: UserView, resource_type: str, resource_id: str) -> str:
    """The level ``user`` has on one resource, resolved as a request of theirs would be."""
    if user.is_admin:
        return access.MANAGE
    grants = await _reads(request).grants_for(user.user_id)
    return access.effective(grants, resource_type, resource_id, state(request).access.default)


@endpoint
async def grant(request: Request) -> Response:
    req = await _params(request)
    command = GrantPermission(
        username=required(req.username, "username"),
        resource_type=required(req.resource_type, "resource_type"),
        resource_id=required(req.resource_id, "resource_id"),
        permission=required(req.permission, "permission"),
        mode="create",
    )
    await run_auth_command(request, command)
    return _EMPTY


@endpoint
async def revoke(request: Request) -> Response:
    req = await _params(request)
    command = RevokePermission(
        username=required(req.username, "username"),
        resource_type=required(req.resource_type, "resource_type"),
        resource_id=required(req.resource_id, "resource_id"),
    )
    await run_auth_command(request, command)
    return _EMPTY


@endpoint
async def get(request: Request) -> Response:
    req = await _params(request)
    user = await find_user(request, req.username)
    resource_type = access.check_resource_type(required(req.resource_type, "resource_type"))
    if resource_type == access.WORKSPACE:
        raise InvalidInput(
            "resource_type 'workspace' is not supported by the per-user permission "
            "convenience APIs."
        )
    level = await effective(request, user, resource_type, required(req.resource_id, "resource_id"))
    return render.json_response({"allowed": access.allows(level, "use"), "permission": level})


async def _listing(request: Request, user: UserView) -> dict[str, Any]:
    reads = _reads(request)
    rows: list[dict[str, Any]] = [
        {
            "role_id": 0,
            "role_name": f"__user_{user.user_id}__",
            "workspace": access.DEFAULT_WORKSPACE,
            "resource_type": g.resource_type,
            "resource_pattern": g.resource_id,
            "permission": g.permission,
        }
        for g in await reads.direct_grants(user.user_id)
    ]
    for role in await reads.user_roles(user.user_id):
        rows.extend(
            {
                "role_id": role.id,
                "role_name": role.name,
                "workspace": role.workspace,
                "resource_type": p.resource_type,
                "resource_pattern": p.resource_pattern,
                "permission": p.permission,
            }
            for p in role.permissions
        )
    return {"is_admin": user.is_admin, "permissions": rows}


@endpoint
async def list_user_permissions(request: Request) -> Response:
    req = await _params(request)
    return render.json_response(await _listing(request, await find_user(request, req.username)))


@endpoint
async def list_current_permissions(request: Request) -> Response:
    me = caller(request)
    return render.json_response(await _listing(request, await find_user(request, me.username)))


# -- the per-experiment endpoints of older clients ------------------------------------------


def _experiment_id(req: GrantRequest) -> str:
    return str(required(req.experiment_id, "experiment_id"))


@endpoint
async def legacy_create(request: Request) -> Response:
    req = await _params(request)
    experiment_id = _experiment_id(req)
    user = await find_user(request, req.username)
    permission = required(req.permission, "permission")
    command = GrantPermission(
        username=user.username,
        resource_type=access.EXPERIMENT,
        resource_id=experiment_id,
        permission=permission,
        mode="create",
        legacy=True,
    )
    await run_auth_command(request, command)
    return render.json_response(
        {
            "experiment_permission": {
                "experiment_id": experiment_id,
                "user_id": user.user_id,
                "permission": permission,
            }
        }
    )


@endpoint
async def legacy_get(request: Request) -> Response:
    req = await _params(request)
    experiment_id = _experiment_id(req)
    user = await find_user(request, req.username)
    held = {
        g.resource_id: g.permission
        for g in await _reads(request).direct_grants(user.user_id)
        if g.resource_type == access.EXPERIMENT
    }
    if experiment_id not in held:
        raise NotFound(
            f"Experiment permission with experiment_id={experiment_id} and "
            f"username={user.username} not found"
        )
    return render.json_response(
        {
            "experiment_permission": {
                "experiment_id": experiment_id,
                "user_id": user.user_id,
                "permission": held[experiment_id],
            }
        }
    )


@endpoint
async def legacy_update(request: Request) -> Response:
    req = await _params(request)
    command = GrantPermission(
        username=required(req.username, "username"),
        resource_type=access.EXPERIMENT,
        resource_id=_experiment_id(req),
        permission=required(req.permission, "permission"),
        mode="update",
        legacy=True,
    )
    await run_auth_command(request, command)
    return _EMPTY


@endpoint
async def legacy_delete(request: Request) -> Response:
    req = await _params(request)
    command = RevokePermission(
        username=required(req.username, "username"),
        resource_type=access.EXPERIMENT,
        resource_id=_experiment_id(req),
    )
    await run_auth_command(request, command)
    return _EMPTY


#: Under /api/3.0/mlflow and /ajax-api/3.0/mlflow.
routes = [
    Route("/users/permissions/grant", grant, methods=["POST"]),
    Route("/users/permissions/revoke", revoke, methods=["POST"]),
    Route("/users/permissions/get", get, methods=["GET"]),
    Route("/users/permissions/list", list_user_permissions, methods=["GET"]),
    Route("/users/current/permissions", list_current_permissions, methods=["GET"]),
]

#: Under /api/2.0/mlflow and /ajax-api/2.0/mlflow.
legacy_routes = [
    Route("/experiments/permissions/create", legacy_create, methods=["POST"]),
    Route("/experiments/permissions/get", legacy_get, methods=["GET"]),
    Route("/experiments/permissions/update", legacy_update, methods=["PATCH"]),
    Route("/experiments/permissions/delete", legacy_delete, methods=["DELETE"]),
]
