"""Decisions for users, tokens, roles and grants (the rules of MLflow 3.17's basic-auth store).

Who may ask for what (an admin, a MANAGE holder, the user themself) is the API's question;
these decisions keep the data consistent: names unique among live users and roles, ids never
reused, a grant or assignment refused when it already exists (``create``) or is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackledger.eventlog import access
from trackledger.eventlog import auth_commands as c
from trackledger.eventlog import auth_events as e
from trackledger.eventlog import auth_lookups as q
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.errors import AlreadyExists, InvalidInput, NotFound
from trackledger.eventlog.lookups import Ask, Decision, GetExperiment, Outcome
from trackledger.eventlog.results import AuthRef, Nothing
from trackledger.eventlog.validation import check_experiment_id

__all__ = [
    "MAX_ROLE_DESCRIPTION_LENGTH",
    "MAX_USERNAME_LENGTH",
    "check_username",
]

MAX_USERNAME_LENGTH = 255
MAX_ROLE_NAME_LENGTH = 255
MAX_ROLE_DESCRIPTION_LENGTH = 1024
MAX_TOKEN_NAME_LENGTH = 255
#: MLflow reserves this prefix for the hidden role that holds one user's own grants.
RESERVED_ROLE_PREFIX = "__user_"


def check_username(username: str | None) -> str:
    if not username:
        raise InvalidInput("Username cannot be empty.")
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidInput(f"Username must be at most {MAX_USERNAME_LENGTH} characters.")
    if ":" in username or any(ord(ch) < 32 or ord(ch) == 127 for ch in username):
        # HTTP Basic credentials split at the first colon.
        raise InvalidInput("Username must not contain ':' or control characters.")
    return username


def _user(username: str | None) -> Ask[q.UserState]:
    name = check_username(username)
    found: q.UserState | None = yield q.GetUser(name)
    if found is None:
        raise NotFound(f"User with username={name} not found")
    return found


def _next_id(kind: str) -> Ask[int]:
    yield q.Claim(f"auth-id:{kind}")
    new_id: int = yield q.NextAuthId(kind)
    return new_id


def create_user(cmd: c.CreateUser, ctx: DecideContext) -> Decision:
    name = check_username(cmd.username)
    yield q.Claim(f"user:{name}")
    if (yield q.GetUser(name)) is not None:
        raise AlreadyExists(f"User (username={name}) already exists.")
    user_id = yield from _next_id("user")
    event = e.UserCreated(
        username=name,
        user_id=user_id,
        password_hash=cmd.password_hash,
        is_admin=cmd.is_admin,
        time=ctx.now,
    )
    return Outcome(events=[event], result=AuthRef(id=user_id))


def change_password(cmd: c.ChangePassword, ctx: DecideContext) -> Decision:
    user = yield from _user(cmd.username)
    event = e.UserPasswordChanged(
        username=user.username, user_id=user.user_id, password_hash=cmd.password_hash, time=ctx.now
    )
    return Outcome(events=[event], result=Nothing())


def set_admin(cmd: c.SetAdmin, ctx: DecideContext) -> Decision:
    user = yield from _user(cmd.username)
    if user.is_admin == cmd.is_admin:
        return Outcome(events=[], result=Nothing())
    event = e.UserAdminChanged(
        username=user.username, user_id=user.user_id, is_admin=cmd.is_admin, time=ctx.now
    )
    return Outcome(events=[event], result=Nothing())


def delete_user(cmd: c.DeleteUser, ctx: DecideContext) -> Decision:
    user = yield from _user(cmd.username)
    event = e.UserDeleted(username=user.username, user_id=user.user_id, time=ctx.now)
    return Outcome(events=[event], result=Nothing())


def create_token(cmd: c.CreateToken, ctx: DecideContext) -> Decision:
    name = (cmd.name or "").strip()
    if not name:
        raise InvalidInput("Missing value for required parameter 'name'.")
    if len(name) > MAX_TOKEN_NAME_LENGTH:
        raise InvalidInput(f"Token name must be at most {MAX_TOKEN_NAME_LENGTH} characters.")
    if cmd.expires_at is not None and cmd.expires_at <= ctx.now:
        raise InvalidInput("A token must expire in the future.")
    if cmd.kind not in ("access", "session"):
        raise InvalidInput(f"unknown token kind {cmd.kind!r}")
    user = yield from _user(cmd.username)
    if cmd.kind == "access":
        tokens: list[q.TokenState] = yield q.GetUserTokens(user.user_id)
        if any(t.name == name and t.kind == "access" and not t.revoked for t in tokens):
            raise AlreadyExists(
                f"A token named '{name}' already exists; revoke it or pick another name."
            )
    event = e.TokenCreated(
        username=user.username,
        user_id=user.user_id,
        token_id=cmd.token_id,
        name=name,
        token_hash=cmd.token_hash,
        expires_at=cmd.expires_at,
        kind=cmd.kind,
        time=ctx.now,
    )
    return Outcome(events=[event], result=Nothing())


def revoke_token(cmd: c.RevokeToken, ctx: DecideContext) -> Decision:
    if not cmd.token_id:
        raise InvalidInput("Missing value for required parameter 'token_id'.")
    user = yield from _user(cmd.username)
    token: q.TokenState | None = yield q.GetToken(cmd.token_id)
    if token is None or token.user_id != user.user_id or token.revoked:
        raise NotFound(f"No token with id={cmd.token_id} for user {user.username}")
    event = e.TokenRevoked(
        username=user.username, user_id=user.user_id, token_id=token.token_id, time=ctx.now
    )
    return Outcome(events=[event], result=Nothing())


def _role_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise InvalidInput("Role name cannot be empty.")
    if name.startswith(RESERVED_ROLE_PREFIX):
        raise InvalidInput(
            f"Role name {name!r} uses the reserved '__user_' prefix, which is held for the "
            "per-user permission representation. Choose a different name."
        )
    if len(name) > MAX_ROLE_NAME_LENGTH:
        raise InvalidInput(f"Role name must be at most {MAX_ROLE_NAME_LENGTH} characters.")
    return name


def _description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_ROLE_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"Role description must be at most {MAX_ROLE_DESCRIPTION_LENGTH} characters."
        )
    return description


def _role(role_id: int) -> Ask[q.RoleState]:
    role: q.RoleState | None = yield q.GetRole(role_id)
    if role is None:
        raise NotFound(f"Role with id={role_id} not found")
    return role


def create_role(cmd: c.CreateRole, ctx: DecideContext) -> Decision:
    name = _role_name(cmd.name)
    if cmd.workspace is None or not cmd.workspace.strip():
        raise InvalidInput("Workspace cannot be empty.")
    if cmd.workspace != access.DEFAULT_WORKSPACE:
        raise InvalidInput(
            f"Workspace {cmd.workspace!r} does not exist: this server has one workspace, "
            f"'{access.DEFAULT_WORKSPACE}'."
        )
    description = _description(cmd.description)
    yield q.Claim(f"role:{cmd.workspace}:{name}")
    if (yield q.GetRoleByName(cmd.workspace, name)) is not None:
        raise AlreadyExists(f"Role (name={name}, workspace={cmd.workspace}) already exists.")
    role_id = yield from _next_id("role")
    event = e.RoleCreated(
        role_id=role_id,
        name=name,
        workspace=cmd.workspace,
        description=description,
        time=ctx.now,
    )
    return Outcome(events=[event], result=AuthRef(id=role_id))


def update_role(cmd: c.UpdateRole, ctx: DecideContext) -> Decision:
    if cmd.name is None and cmd.description is None:
        raise InvalidInput(
            "At least one of 'name' or 'description' must be provided to update a role."
        )
    name = None if cmd.name is None else _role_name(cmd.name)
    description = _description(cmd.description)
    role = yield from _role(cmd.role_id)
    if name is not None and name != role.name:
        yield q.Claim(f"role:{role.workspace}:{name}")
        if (yield q.GetRoleByName(role.workspace, name)) is not None:
            raise AlreadyExists(
                f"Role with name={name} already exists in workspace={role.workspace}"
            )
    event = e.RoleUpdated(role_id=role.role_id, name=name, description=description, time=ctx.now)
    return Outcome(events=[event], result=AuthRef(id=role.role_id))


def delete_role(cmd: c.DeleteRole, ctx: DecideContext) -> Decision:
    role = yield from _role(cmd.role_id)
    return Outcome(events=[e.RoleDeleted(role_id=role.role_id, time=ctx.now)], result=Nothing())


def add_role_permission(cmd: c.AddRolePermission, ctx: DecideContext) -> Decision:
    kind, pattern, level = access.check_grant(
        cmd.resource_type, cmd.resource_pattern, cmd.permission
    )
    role = yield from _role(cmd.role_id)
    yield q.Claim(f"role-permission:{role.role_id}:{kind}:{pattern}")
    if (yield q.GetRolePermissionFor(role.role_id, kind, pattern)) is not None:
        raise AlreadyExists(
            f"Role permission (role_id={role.role_id}, resource_type={kind}, "
            f"resource_pattern={pattern}) already exists."
        )
    permission_id = yield from _next_id("role_permission")
    event = e.RolePermissionAdded(
        role_id=role.role_id,
        role_permission_id=permission_id,
        resource_type=kind,
        resource_pattern=pattern,
        permission=level,
    )
    return Outcome(events=[event], result=AuthRef(id=permission_id))


def _role_permission(permission_id: int) -> Ask[q.RolePermissionState]:
    found: q.RolePermissionState | None = yield q.GetRolePermission(permission_id)
    if found is None:
        raise NotFound(f"Role permission with id={permission_id} not found")
    return found


def change_role_permission(cmd: c.ChangeRolePermission, ctx: DecideContext) -> Decision:
    found = yield from _role_permission(cmd.role_permission_id)
    _, _, level = access.check_grant(found.resource_type, found.resource_pattern, cmd.permission)
    event = e.RolePermissionChanged(
        role_id=found.role_id, role_permission_id=found.role_permission_id, permission=level
    )
    return Outcome(events=[event], result=AuthRef(id=found.role_permission_id))


def remove_role_permission(cmd: c.RemoveRolePermission, ctx: DecideContext) -> Decision:
    found = yield from _role_permission(cmd.role_permission_id)
    event = e.RolePermissionRemoved(
        role_id=found.role_id, role_permission_id=found.role_permission_id
    )
    return Outcome(events=[event], result=Nothing())


def assign_role(cmd: c.AssignRole, ctx: DecideContext) -> Decision:
    user = yield from _user(cmd.username)
    role = yield from _role(cmd.role_id)
    yield q.Claim(f"assignment:{role.role_id}:{user.user_id}")
    if (yield q.GetAssignment(role.role_id, user.user_id)) is not None:
        raise AlreadyExists(
            f"User role assignment (user_id={user.user_id}, role_id={role.role_id}) already exists"
        )
    assignment_id = yield from _next_id("assignment")
    event = e.RoleAssigned(
        role_id=role.role_id,
        assignment_id=assignment_id,
        user_id=user.user_id,
        username=user.username,
    )
    return Outcome(events=[event], result=AuthRef(id=assignment_id))


def unassign_role(cmd: c.UnassignRole, ctx: DecideContext) -> Decision:
    user = yield from _user(cmd.username)
    if (yield q.GetAssignment(cmd.role_id, user.user_id)) is None:
        raise NotFound(
            f"User role assignment (user_id={user.user_id}, role_id={cmd.role_id}) not found"
        )
    event = e.RoleUnassigned(role_id=cmd.role_id, user_id=user.user_id, username=user.username)
    return Outcome(events=[event], result=Nothing())


def _resource(resource_type: str | None, resource_id: str | None) -> Ask[tuple[str, str]]:
    kind = access.check_resource_type(resource_type)
    if kind == access.WORKSPACE:
        raise InvalidInput(
            "resource_type 'workspace' is not supported by the per-user permission "
            "convenience APIs. Use a role with a workspace permission instead."
        )
    if not resource_id:
        raise InvalidInput("Missing value for required parameter 'resource_id'.")
    if kind == access.EXPERIMENT and resource_id != "*":
        check_experiment_id(resource_id)
        if (yield GetExperiment(resource_id)) is None:
            raise NotFound(f"No Experiment with id={resource_id} exists")
    return kind, resource_id


def _grant_text(username: str, kind: str, resource_id: str) -> str:
    return f"Permission for user={username} on resource_type={kind}, resource_id={resource_id}"


def grant(cmd: c.GrantPermission, ctx: DecideContext) -> Decision:
    if cmd.mode not in ("create", "update", "set"):
        raise InvalidInput(f"unknown grant mode {cmd.mode!r}")
    kind, resource_id = yield from _resource(cmd.resource_type, cmd.resource_id)
    _, _, level = access.check_grant(kind, resource_id, cmd.permission, legacy=cmd.legacy)
    user = yield from _user(cmd.username)
    yield q.Claim(f"grant:{kind}:{resource_id}:{user.user_id}")
    held: str | None = yield q.GetGrant(kind, resource_id, user.user_id)
    if held is not None and cmd.mode == "create":
        raise AlreadyExists(f"{_grant_text(user.username, kind, resource_id)} already exists.")
    if held is None and cmd.mode == "update":
        raise NotFound(f"{_grant_text(user.username, kind, resource_id)} not found.")
    if held == level:
        return Outcome(events=[], result=Nothing())
    event = e.PermissionGranted(
        resource_type=kind,
        resource_id=resource_id,
        user_id=user.user_id,
        username=user.username,
        permission=level,
    )
    return Outcome(events=[event], result=Nothing())


def revoke(cmd: c.RevokePermission, ctx: DecideContext) -> Decision:
    kind = access.check_resource_type(cmd.resource_type)
    resource_id = cmd.resource_id
    if not resource_id:
        raise InvalidInput("Missing value for required parameter 'resource_id'.")
    user = yield from _user(cmd.username)
    if (yield q.GetGrant(kind, resource_id, user.user_id)) is None:
        raise NotFound(f"{_grant_text(user.username, kind, resource_id)} not found.")
    event = e.PermissionRevoked(
        resource_type=kind, resource_id=resource_id, user_id=user.user_id, username=user.username
    )
    return Outcome(events=[event], result=Nothing())


DECISIONS: dict[type, Callable[[Any, DecideContext], Decision]] = {
    c.CreateUser: create_user,
    c.ChangePassword: change_password,
    c.SetAdmin: set_admin,
    c.DeleteUser: delete_user,
    c.CreateToken: create_token,
    c.RevokeToken: revoke_token,
    c.CreateRole: create_role,
    c.UpdateRole: update_role,
    c.DeleteRole: delete_role,
    c.AddRolePermission: add_role_permission,
    c.ChangeRolePermission: change_role_permission,
    c.RemoveRolePermission: remove_role_permission,
    c.AssignRole: assign_role,
    c.UnassignRole: unassign_role,
    c.GrantPermission: grant,
    c.RevokePermission: revoke,
}
