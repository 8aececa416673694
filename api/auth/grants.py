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
    name: str | None = None


async def resource_key(request: Request, resource_type: str, resource_id: str) -> str:
    """What a grant is held by: an experiment's id; a registered model's internal id (MLflow
    names the model, but a rename must keep its grants and a new model of a freed name must
    not inherit them)."""
    if resource_type != access.REGISTERED_MODEL or resource_id == "*":
        return resource_id
    found = await request.app.state.backend.registry.model_named(resource_id)
    if found is None:
        raise NotFound(f"Registered Model with name={resource_id} not found")
    model_id: str = found.registered_model_id
    return model_id


async def _shown(request: Request, resource_type: str, key: str) -> str:
    """A grant's resource as MLflow shows it: a registered model by its current name."""
    if resource_type != access.REGISTERED_MODEL or key == "*":
        return key
    found = await request.app.state.backend.registry.model(key)
    name: str = found.name if found is not None else key
    return name


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


async def grant(request: Request) -> Response:
    req = await _params(request)
    resource_type = required(req.resource_type, "resource_type")
    command = GrantPermission(
        username=required(req.username, "username"),
        resource_type=resource_type,
        resource_id=await resource_key(
            request, resource_type, required(req.resource_id, "resource_id")
        ),
        permission=required(req.permission, "permission"),
        mode="create",
    )
    await run_auth_command(request, command)
    return _EMPTY


async def revoke(request: Request) -> Response:
    req = await _params(request)
    resource_type = required(req.resource_type, "resource_type")
    command = RevokePermission(
        username=required(req.username, "username"),
        resource_type=resource_type,
        resource_id=await resource_key(
            request, resource_type, required(req.resource_id, "resource_id")
        ),
    )
    await run_auth_command(request, command)
    return _EMPTY


async def get(request: Request) -> Response:
    req = await _params(request)
    user = await find_user(request, req.username)
    resource_type = access.check_resource_type(required(req.resource_type, "resource_type"))
    if resource_type == access.WORKSPACE:
        raise InvalidInput(
            "resource_type 'workspace' is not supported by the per-user permission "
            "convenience APIs."
        )
    key = await resource_key(request, resource_type, required(req.resource_id, "resource_id"))
    level = await effective(request, user, resource_type, key)
    return render.json_response({"allowed": access.allows(level, "use"), "permission": level})


async def _listing(request: Request, user: UserView) -> dict[str, Any]:
    reads = _reads(request)
    rows: list[dict[str, Any]] = [
        {
            "role_id": 0,
            "role_name": f"__user_{user.user_id}__",
            "workspace": access.DEFAULT_WORKSPACE,
            "resource_type": g.resource_type,
            "resource_pattern": await _shown(request, g.resource_type, g.resource_id),
            "permission": g.permission,
        }
        for g in await reads.direct_grants(user.user_id)
    ]
    for role in await reads.user_roles(user.user_id):
        for p in role.permissions:
            rows.append(
                {
                    "role_id": role.id,
                    "role_name": role.name,
                    "workspace": role.workspace,
                    "resource_type": p.resource_type,
                    "resource_pattern": await _shown(
                        request, p.resource_type, p.resource_pattern
                    ),
                    "permission": p.permission,
                }
            )
    return {"is_admin": user.is_admin, "permissions": rows}


async def list_user_permissions(request: Request) -> Response:
    req = await _params(request)
    return render.json_response(await _listing(request, await find_user(request, req.username)))


async def list_current_permissions(request: Request) -> Response:
    me = caller(request)
    return render.json_response(await _listing(request, await find_user(request, me.username)))


# -- the per-experiment endpoints of older clients ------------------------------------------


def _experiment_id(req: GrantRequest) -> str:
    return str(required(req.experiment_id, "experiment_id"))


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


async def legacy_delete(request: Request) -> Response:
    req = await _params(request)
    command = RevokePermission(
        username=required(req.username, "username"),
        resource_type=access.EXPERIMENT,
        resource_id=_experiment_id(req),
    )
    await run_auth_command(request, command)
    return _EMPTY


async def _model_grant(request: Request, req: GrantRequest) -> tuple[str, str]:
    """(name, internal id) of the live registered model the request names."""
    name = str(required(req.name, "name"))
    return name, await resource_key(request, access.REGISTERED_MODEL, name)


async def legacy_model_create(request: Request) -> Response:
    req = await _params(request)
    name, key = await _model_grant(request, req)
    user = await find_user(request, req.username)
    permission = required(req.permission, "permission")
    command = GrantPermission(
        username=user.username,
        resource_type=access.REGISTERED_MODEL,
        resource_id=key,
        permission=permission,
        mode="create",
        legacy=True,
    )
    await run_auth_command(request, command)
    body = {"name": name, "user_id": user.user_id, "permission": permission}
    return render.json_response({"registered_model_permission": body})


async def legacy_model_get(request: Request) -> Response:
    req = await _params(request)
    name, key = await _model_grant(request, req)
    user = await find_user(request, req.username)
    held = {
        g.resource_id: g.permission
        for g in await _reads(request).direct_grants(user.user_id)
        if g.resource_type == access.REGISTERED_MODEL
    }
    if key not in held:
        raise NotFound(
            f"Registered model permission with name={name} and username={user.username} "
            "not found"
        )
    body = {"name": name, "user_id": user.user_id, "permission": held[key]}
    return render.json_response({"registered_model_permission": body})


async def legacy_model_update(request: Request) -> Response:
    req = await _params(request)
    _, key = await _model_grant(request, req)
    command = GrantPermission(
        username=required(req.username, "username"),
        resource_type=access.REGISTERED_MODEL,
        resource_id=key,
        permission=required(req.permission, "permission"),
        mode="update",
        legacy=True,
    )
    await run_auth_command(request, command)
    return _EMPTY


async def legacy_model_delete(request: Request) -> Response:
    req = await _params(request)
    _, key = await _model_grant(request, req)
    command = RevokePermission(
        username=required(req.username, "username"),
        resource_type=access.REGISTERED_MODEL,
        resource_id=key,
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
    Route("/registered-models/permissions/create", legacy_model_create, methods=["POST"]),
    Route("/registered-models/permissions/get", legacy_model_get, methods=["GET"]),
    Route("/registered-models/permissions/update", legacy_model_update, methods=["PATCH"]),
    Route("/registered-models/permissions/delete", legacy_model_delete, methods=["DELETE"]),
]
