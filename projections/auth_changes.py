"""Turn an auth event into the row changes it makes to the auth tables.

Fields are last-writer-wins guarded by the log position that wrote them (``pos`` 0 on a
field means "not written by this change"); ids are never reused, so a created row's fixed
fields merge with COALESCE; a revoked grant or assignment is a positioned tombstone.
"""

from __future__ import annotations

import msgspec

from trackledger.eventlog import auth_events as e

__all__ = [
    "AUTH_CHANGES",
    "AuthChange",
    "DropGrants",
    "SetAssignment",
    "SetGrant",
    "SetRole",
    "SetRolePermission",
    "SetToken",
    "SetUser",
    "auth_changes_for",
]


class SetUser(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    pos: int
    username: str | None = None
    password_hash: str | None = None
    is_admin: bool | None = None
    created_time: int | None = None
    deleted_time: int | None = None


class SetToken(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    pos: int
    user_id: int | None = None
    kind: str | None = None
    name: str | None = None
    token_hash: str | None = None
    created_time: int | None = None
    expires_at: int | None = None
    revoked_time: int | None = None


class SetRole(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    pos: int
    name: str | None = None
    workspace: str | None = None
    description: str | None = None
    created_time: int | None = None
    deleted_time: int | None = None


class SetRolePermission(msgspec.Struct, frozen=True, kw_only=True):
    role_permission_id: int
    pos: int
    role_id: int | None = None
    resource_type: str | None = None
    resource_pattern: str | None = None
    permission: str | None = None
    removed: bool = False


class SetAssignment(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    user_id: int
    pos: int
    assignment_id: int | None


class SetGrant(msgspec.Struct, frozen=True, kw_only=True):
    resource_type: str
    resource_id: str
    user_id: int
    pos: int
    permission: str | None


class DropGrants(msgspec.Struct, frozen=True, kw_only=True):
    """Every grant on a resource that was purged (its stream, grants included, is gone)."""

    resource_type: str
    resource_id: str


AuthChange = (
    SetUser | SetToken | SetRole | SetRolePermission | SetAssignment | SetGrant | DropGrants
)
AUTH_CHANGES = (SetUser, SetToken, SetRole, SetRolePermission, SetAssignment, SetGrant, DropGrants)


def auth_changes_for(event: e.AuthEvent, pos: int) -> list[AuthChange]:  # noqa: C901 - one case per event
    match event:
        case e.UserCreated():
            return [
                SetUser(
                    user_id=event.user_id,
                    pos=pos,
                    username=event.username,
                    password_hash=event.password_hash,
                    is_admin=event.is_admin,
                    created_time=event.time,
                )
            ]
        case e.UserPasswordChanged():
            return [SetUser(user_id=event.user_id, pos=pos, password_hash=event.password_hash)]
        case e.UserAdminChanged():
            return [SetUser(user_id=event.user_id, pos=pos, is_admin=event.is_admin)]
        case e.UserDeleted():
            return [SetUser(user_id=event.user_id, pos=pos, deleted_time=event.time)]
        case e.TokenCreated():
            return [
                SetToken(
                    token_id=event.token_id,
                    pos=pos,
                    user_id=event.user_id,
                    kind=event.kind,
                    name=event.name,
                    token_hash=event.token_hash,
                    created_time=event.time,
                    expires_at=event.expires_at,
                )
            ]
        case e.TokenRevoked():
            return [SetToken(token_id=event.token_id, pos=pos, revoked_time=event.time)]
        case e.RoleCreated():
            return [
                SetRole(
                    role_id=event.role_id,
                    pos=pos,
                    name=event.name,
                    workspace=event.workspace,
                    description=event.description,
                    created_time=event.time,
                )
            ]
        case e.RoleUpdated():
            return [
                SetRole(
                    role_id=event.role_id,
                    pos=pos,
                    name=event.name,
                    description=event.description,
                )
            ]
        case e.RoleDeleted():
            return [SetRole(role_id=event.role_id, pos=pos, deleted_time=event.time)]
        case e.RolePermissionAdded():
            return [
                SetRolePermission(
                    role_permission_id=event.role_permission_id,
                    pos=pos,
                    role_id=event.role_id,
                    resource_type=event.resource_type,
                    resource_pattern=event.resource_pattern,
                    permission=event.permission,
                )
            ]
        case e.RolePermissionChanged():
            return [
                SetRolePermission(
                    role_permission_id=event.role_permission_id,
                    pos=pos,
                    permission=event.permission,
                )
            ]
        case e.RolePermissionRemoved():
            return [
                SetRolePermission(
                    role_permission_id=event.role_permission_id, pos=pos, removed=True
                )
            ]
        case e.RoleAssigned():
            return [
                SetAssignment(
                    role_id=event.role_id,
                    user_id=event.user_id,
                    pos=pos,
                    assignment_id=event.assignment_id,
                )
            ]
        case e.RoleUnassigned():
            return [
                SetAssignment(
                    role_id=event.role_id, user_id=event.user_id, pos=pos, assignment_id=None
                )
            ]
        case e.PermissionGranted():
            return [
                SetGrant(
                    resource_type=event.resource_type,
                    resource_id=event.resource_id,
                    user_id=event.user_id,
                    pos=pos,
                    permission=event.permission,
                )
            ]
        case e.PermissionRevoked():
            return [
                SetGrant(
                    resource_type=event.resource_type,
                    resource_id=event.resource_id,
                    user_id=event.user_id,
                    pos=pos,
                    permission=None,
                )
            ]
    raise TypeError(f"no projection for event {type(event).__name__}")
