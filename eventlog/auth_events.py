"""Users, access tokens, roles and permission grants: events in the same log.

Streams:

- ``user/<username>``: the user's creation, password and admin changes, deletion, and the
  access tokens they create and revoke. Users are keyed by a numeric ``user_id`` handed out
  at creation: a user deleted and created again under the same name is a new user, and what
  was granted to the old one does not carry over.
- ``role/<role_id>``: a role, the permissions it holds and the users assigned to it.
- grants to one user on one resource go on the resource's own stream (``experiment/<id>``),
  so the resource's history answers "who gave alice EDIT on experiment 7, and when"; a
  grant on every resource of a type (``"*"``) goes on the user's stream.

Events never carry a secret: passwords and tokens appear only as salted hashes (see
``trackledger.services.secrets``), and the API never shows those either.
"""

from __future__ import annotations

from trackledger.eventlog.event_base import Event

__all__ = [
    "AUTH_EVENTS",
    "SECRET_FIELDS",
    "AuthEvent",
    "PermissionGranted",
    "PermissionRevoked",
    "RoleAssigned",
    "RoleCreated",
    "RoleDeleted",
    "RolePermissionAdded",
    "RolePermissionChanged",
    "RolePermissionRemoved",
    "RoleUnassigned",
    "RoleUpdated",
    "TokenCreated",
    "TokenRevoked",
    "UserAdminChanged",
    "UserCreated",
    "UserDeleted",
    "UserPasswordChanged",
    "grant_stream",
    "owner_grant",
    "role_stream",
    "user_stream",
]

#: Fields that hold a hash of a secret: kept in the log, never shown by the API.
SECRET_FIELDS = frozenset({"password_hash", "token_hash"})


def user_stream(username: str) -> str:
    return f"user/{username}"


def role_stream(role_id: int) -> str:
    return f"role/{role_id}"


def grant_stream(resource_type: str, resource_id: str, username: str) -> str:
    """Where a grant to ``username`` goes: the resource's own stream, or the user's for a
    grant on every resource of the type."""
    if resource_id == "*":
        return user_stream(username)
    if resource_type == "experiment":
        return f"experiment/{resource_id}"
    return f"{resource_type}/{resource_id}"


class _UserEvent(Event, frozen=True, kw_only=True):
    username: str
    user_id: int

    @property
    def stream(self) -> str:
        return user_stream(self.username)


class UserCreated(_UserEvent, frozen=True, kw_only=True, tag="user.created"):
    password_hash: str
    is_admin: bool = False
    time: int


class UserPasswordChanged(_UserEvent, frozen=True, kw_only=True, tag="user.password_changed"):
    password_hash: str
    time: int


class UserAdminChanged(_UserEvent, frozen=True, kw_only=True, tag="user.admin_changed"):
    is_admin: bool
    time: int


class UserDeleted(_UserEvent, frozen=True, kw_only=True, tag="user.deleted"):
    time: int


class TokenCreated(_UserEvent, frozen=True, kw_only=True, tag="user.token_created"):
    token_id: str
    name: str
    token_hash: str
    time: int
    expires_at: int | None = None
    #: ``access`` (a named token for scripts) or ``session`` (a browser login).
    kind: str = "access"


class TokenRevoked(_UserEvent, frozen=True, kw_only=True, tag="user.token_revoked"):
    token_id: str
    time: int


class _RoleEvent(Event, frozen=True, kw_only=True):
    role_id: int

    @property
    def stream(self) -> str:
        return role_stream(self.role_id)


class RoleCreated(_RoleEvent, frozen=True, kw_only=True, tag="role.created"):
    name: str
    workspace: str
    description: str | None = None
    time: int


class RoleUpdated(_RoleEvent, frozen=True, kw_only=True, tag="role.updated"):
    """``None`` means "not part of this update"."""

    name: str | None = None
    description: str | None = None
    time: int


class RoleDeleted(_RoleEvent, frozen=True, kw_only=True, tag="role.deleted"):
    time: int


class RolePermissionAdded(_RoleEvent, frozen=True, kw_only=True, tag="role.permission_added"):
    role_permission_id: int
    resource_type: str
    resource_pattern: str
    permission: str


class RolePermissionChanged(_RoleEvent, frozen=True, kw_only=True, tag="role.permission_changed"):
    role_permission_id: int
    permission: str


class RolePermissionRemoved(_RoleEvent, frozen=True, kw_only=True, tag="role.permission_removed"):
    role_permission_id: int


class RoleAssigned(_RoleEvent, frozen=True, kw_only=True, tag="role.assigned"):
    assignment_id: int
    user_id: int
    username: str


class RoleUnassigned(_RoleEvent, frozen=True, kw_only=True, tag="role.unassigned"):
    user_id: int
    username: str


class _GrantEvent(Event, frozen=True, kw_only=True):
    resource_type: str
    resource_id: str
    user_id: int
    username: str

    @property
    def stream(self) -> str:
        return grant_stream(self.resource_type, self.resource_id, self.username)


class PermissionGranted(_GrantEvent, frozen=True, kw_only=True, tag="permission.granted"):
    permission: str


class PermissionRevoked(_GrantEvent, frozen=True, kw_only=True, tag="permission.revoked"):
    pass


def owner_grant(
    resource_type: str, resource_id: str, user_id: int, username: str
) -> PermissionGranted:
    """MANAGE for the user who created the resource (MLflow's rule)."""
    return PermissionGranted(
        resource_type=resource_type,
        resource_id=resource_id,
        user_id=user_id,
        username=username,
        permission="MANAGE",
    )


AUTH_EVENTS = (
    UserCreated,
    UserPasswordChanged,
    UserAdminChanged,
    UserDeleted,
    TokenCreated,
    TokenRevoked,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    RolePermissionAdded,
    RolePermissionChanged,
    RolePermissionRemoved,
    RoleAssigned,
    RoleUnassigned,
    PermissionGranted,
    PermissionRevoked,
)

AuthEvent = (
    UserCreated
    | UserPasswordChanged
    | UserAdminChanged
    | UserDeleted
    | TokenCreated
    | TokenRevoked
    | RoleCreated
    | RoleUpdated
    | RoleDeleted
    | RolePermissionAdded
    | RolePermissionChanged
    | RolePermissionRemoved
    | RoleAssigned
    | RoleUnassigned
    | PermissionGranted
    | PermissionRevoked
)
