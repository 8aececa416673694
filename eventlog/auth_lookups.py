"""What auth decisions ask of the current state (answered in ``projections/auth_lookups_sql``).

A decision that is about to take a name or hand out an id first yields ``Claim``: on
PostgreSQL that takes a transaction-scoped advisory lock in a statement of its own, so the
lookup that follows runs with a snapshot taken after any competing transaction committed.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "AUTH_LOOKUPS",
    "Claim",
    "GetAssignment",
    "GetGrant",
    "GetRole",
    "GetRoleByName",
    "GetRolePermission",
    "GetRolePermissionFor",
    "GetToken",
    "GetUser",
    "GetUserTokens",
    "NextAuthId",
    "RolePermissionState",
    "RoleState",
    "TokenState",
    "UserState",
]


class UserState(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    username: str
    is_admin: bool


class TokenState(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    user_id: int
    name: str
    kind: str
    revoked: bool


class RoleState(msgspec.Struct, frozen=True, kw_only=True):
    role_id: int
    name: str
    workspace: str
    description: str | None


class RolePermissionState(msgspec.Struct, frozen=True, kw_only=True):
    role_permission_id: int
    role_id: int
    resource_type: str
    resource_pattern: str
    permission: str


class Claim(msgspec.Struct, frozen=True):
    """Answer: ``None``, once concurrent decisions about ``key`` wait for this one."""

    key: str


class GetUser(msgspec.Struct, frozen=True):
    """Answer: ``UserState | None``: the user of that name who is not deleted."""

    username: str


class NextAuthId(msgspec.Struct, frozen=True):
    """Answer: ``int``, never handed out before for ``kind`` (user, role, role_permission,
    assignment). Claim ``auth-id:<kind>`` first."""

    kind: str


class GetUserTokens(msgspec.Struct, frozen=True):
    """Answer: ``list[TokenState]`` of the user's tokens, revoked ones included."""

    user_id: int


class GetToken(msgspec.Struct, frozen=True):
    """Answer: ``TokenState | None``."""

    token_id: str


class GetRole(msgspec.Struct, frozen=True):
    """Answer: ``RoleState | None`` (not deleted)."""

    role_id: int


class GetRoleByName(msgspec.Struct, frozen=True):
    """Answer: ``RoleState | None`` (not deleted)."""

    workspace: str
    name: str


class GetRolePermission(msgspec.Struct, frozen=True):
    """Answer: ``RolePermissionState | None`` (not removed, of a role not deleted)."""

    role_permission_id: int


class GetRolePermissionFor(msgspec.Struct, frozen=True):
    """Answer: ``RolePermissionState | None``: the role's permission on that pattern."""

    role_id: int
    resource_type: str
    resource_pattern: str


class GetAssignment(msgspec.Struct, frozen=True):
    """Answer: ``int | None``, the assignment id when the user holds the role."""

    role_id: int
    user_id: int


class GetGrant(msgspec.Struct, frozen=True):
    """Answer: ``str | None``, the permission granted to the user on the resource."""

    resource_type: str
    resource_id: str
    user_id: int


AUTH_LOOKUPS = (
    Claim,
    GetUser,
    NextAuthId,
    GetUserTokens,
    GetToken,
    GetRole,
    GetRoleByName,
    GetRolePermission,
    GetRolePermissionFor,
    GetAssignment,
    GetGrant,
)
