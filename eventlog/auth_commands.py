"""Commands about users, access tokens, roles and grants (decided in ``decide_auth.py``).

Secrets arrive already hashed: the API hashes a password or token before it builds the
command, so no command, decision or event ever holds one.
"""

from __future__ import annotations

from trackledger.eventlog.command_base import Command

__all__ = [
    "AUTH_COMMANDS",
    "AddRolePermission",
    "AssignRole",
    "ChangePassword",
    "ChangeRolePermission",
    "CreateRole",
    "CreateToken",
    "CreateUser",
    "DeleteRole",
    "DeleteUser",
    "GrantPermission",
    "RemoveRolePermission",
    "RevokePermission",
    "RevokeToken",
    "SetAdmin",
    "UnassignRole",
    "UpdateRole",
]


class CreateUser(Command, frozen=True, kw_only=True, tag="create_user"):
    username: str | None
    password_hash: str
    is_admin: bool = False


class ChangePassword(Command, frozen=True, kw_only=True, tag="change_password"):
    username: str | None
    password_hash: str


class SetAdmin(Command, frozen=True, kw_only=True, tag="set_admin"):
    username: str | None
    is_admin: bool


class DeleteUser(Command, frozen=True, kw_only=True, tag="delete_user"):
    username: str | None


class CreateToken(Command, frozen=True, kw_only=True, tag="create_token"):
    username: str
    token_id: str
    name: str | None
    token_hash: str
    expires_at: int | None = None
    kind: str = "access"


class RevokeToken(Command, frozen=True, kw_only=True, tag="revoke_token"):
    username: str
    token_id: str | None


class CreateRole(Command, frozen=True, kw_only=True, tag="create_role"):
    name: str | None
    workspace: str | None
    description: str | None = None


class UpdateRole(Command, frozen=True, kw_only=True, tag="update_role"):
    role_id: int
    name: str | None = None
    description: str | None = None


class DeleteRole(Command, frozen=True, kw_only=True, tag="delete_role"):
    role_id: int


class AddRolePermission(Command, frozen=True, kw_only=True, tag="add_role_permission"):
    role_id: int
    resource_type: str | None
    resource_pattern: str | None
    permission: str | None


class ChangeRolePermission(Command, frozen=True, kw_only=True, tag="change_role_permission"):
    role_permission_id: int
    permission: str | None


class RemoveRolePermission(Command, frozen=True, kw_only=True, tag="remove_role_permission"):
    role_permission_id: int


class AssignRole(Command, frozen=True, kw_only=True, tag="assign_role"):
    username: str | None
    role_id: int


class UnassignRole(Command, frozen=True, kw_only=True, tag="unassign_role"):
    username: str | None
    role_id: int


class GrantPermission(Command, frozen=True, kw_only=True, tag="grant_permission"):
    """Give ``username`` ``permission`` on one resource (or ``"*"``: every one of the type).

    ``mode``: ``create`` refuses an existing grant, ``update`` refuses a missing one, ``set``
    takes either. ``legacy`` accepts NO_PERMISSIONS, as the per-experiment and
    per-registered-model endpoints of older MLflow clients do.
    """

    username: str | None
    resource_type: str | None
    resource_id: str | None
    permission: str | None
    mode: str = "create"
    legacy: bool = False


class RevokePermission(Command, frozen=True, kw_only=True, tag="revoke_permission"):
    username: str | None
    resource_type: str | None
    resource_id: str | None


AUTH_COMMANDS = (
    CreateUser,
    ChangePassword,
    SetAdmin,
    DeleteUser,
    CreateToken,
    RevokeToken,
    CreateRole,
    UpdateRole,
    DeleteRole,
    AddRolePermission,
    ChangeRolePermission,
    RemoveRolePermission,
    AssignRole,
    UnassignRole,
    GrantPermission,
    RevokePermission,
)
