"""MLflow 3.17's permissions: what each level allows and how grants combine.

- Levels: READ < USE < EDIT < MANAGE; NO_PERMISSIONS allows nothing; DENY allows nothing
  and always wins over any positive grant it is combined with.
- Grants that apply to one resource are those on its id and those on ``"*"`` (every resource
  of the type), from the user's own grants and from every role the user holds. Among them
  DENY wins; otherwise the highest level.
- A resource with no applicable grant gets the server's default permission; a positive grant
  never resolves below that default (NO_PERMISSIONS and DENY are kept as they are).
- Admins may do everything, and so may holders of MANAGE on the ``workspace`` slot.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from trackledger.eventlog.errors import InvalidInput

__all__ = [
    "DENY",
    "LEVELS",
    "MANAGE",
    "NO_PERMISSIONS",
    "READ",
    "RESOURCE_TYPES",
    "Grant",
    "allows",
    "check_grant",
    "check_permission_name",
    "effective",
    "fold",
]

READ = "READ"
USE = "USE"
EDIT = "EDIT"
MANAGE = "MANAGE"
NO_PERMISSIONS = "NO_PERMISSIONS"
DENY = "DENY"

#: Rank of each level; DENY ranks below everything and is handled before ranking.
LEVELS = {DENY: -1, NO_PERMISSIONS: 0, READ: 1, USE: 2, EDIT: 3, MANAGE: 4}

#: What each action needs, as a minimum level (MLflow's can_read, can_use, ...).
ACTIONS = {"read": 1, "use": 2, "update": 3, "delete": 4, "manage": 4}

EXPERIMENT = "experiment"
REGISTERED_MODEL = "registered_model"
WORKSPACE = "workspace"
#: The resource types this server enforces grants on.
RESOURCE_TYPES = (EXPERIMENT, REGISTERED_MODEL, WORKSPACE)
#: Levels a grant on a resource may carry (NO_PERMISSIONS only through older endpoints).
RESOURCE_GRANTABLE = (READ, USE, EDIT, MANAGE, DENY)
#: Levels the workspace-wide slot may carry: membership and administration of resources.
WORKSPACE_GRANTABLE = (USE, MANAGE)
#: The only workspace: this server does not partition resources into workspaces.
DEFAULT_WORKSPACE = "default"


class Grant(msgspec.Struct, frozen=True, array_like=True):
    """One grant a user holds, directly or through a role."""

    resource_type: str
    pattern: str
    permission: str


def check_permission_name(permission: str | None, field: str = "permission") -> str:
    if permission not in LEVELS:
        raise InvalidInput(
            f"Invalid permission '{permission}'. Valid permissions are: {tuple(LEVELS)}"
            if permission
            else f"Missing value for required parameter '{field}'."
        )
    return permission


def check_resource_type(resource_type: str | None) -> str:
    if resource_type not in RESOURCE_TYPES:
        raise InvalidInput(
            f"Invalid resource type '{resource_type}'. Valid resource types are: "
            f"{tuple(sorted(RESOURCE_TYPES))}"
        )
    return resource_type


def check_grant(
    resource_type: str | None, pattern: str | None, permission: str | None, *, legacy: bool = False
) -> tuple[str, str, str]:
    """A valid (type, pattern, permission) for a role permission or a user grant."""
    kind = check_resource_type(resource_type)
    level = check_permission_name(permission)
    if not pattern:
        raise InvalidInput("Missing value for required parameter 'resource_pattern'.")
    if kind == WORKSPACE:
        if level not in WORKSPACE_GRANTABLE:
            raise InvalidInput(
                f"Invalid permission '{level}' for resource_type='workspace'. Workspace-wide "
                f"grants accept only: {WORKSPACE_GRANTABLE}."
            )
        if pattern != "*":
            raise InvalidInput(
                f"Invalid resource_pattern '{pattern}' for resource_type='workspace'. This "
                "resource type supports only wildcard ('*') grants."
            )
    elif level not in RESOURCE_GRANTABLE and not (legacy and level == NO_PERMISSIONS):
        raise InvalidInput(
            f"Invalid permission '{level}' for resource_type='{kind}'. Resource-level grants "
            f"accept only: {RESOURCE_GRANTABLE}."
        )
    return kind, pattern, level


def fold(permissions: Iterable[str]) -> str | None:
    """Grants that apply to one resource, combined: DENY wins, else the highest; None if
    there are none."""
    best: str | None = None
    for permission in permissions:
        if permission == DENY:
            return DENY
        if best is None or LEVELS.get(permission, 0) > LEVELS.get(best, 0):
            best = permission
    return best


def floor(permission: str | None, default: str) -> str:
    """The level a resource resolves to: the default when nothing applies; a positive grant
    never below the default."""
    if permission is None:
        return default
    if permission in (DENY, NO_PERMISSIONS):
        return permission
    return permission if LEVELS[permission] >= LEVELS.get(default, 0) else default


def manages_everything(grants: Iterable[Grant]) -> bool:
    """MANAGE on the workspace slot: an administrator of every resource."""
    return any(
        g.resource_type == WORKSPACE and g.pattern == "*" and g.permission == MANAGE for g in grants
    )


def effective(grants: Iterable[Grant], resource_type: str, resource_id: str, default: str) -> str:
    """The level a user with ``grants`` has on one resource."""
    held = list(grants)
    if manages_everything(held):
        return MANAGE
    applying = (
        g.permission
        for g in held
        if g.resource_type == resource_type and g.pattern in (resource_id, "*")
    )
    return floor(fold(applying), default)


def allows(permission: str, action: str) -> bool:
    """Whether ``permission`` lets one ``action`` (read, use, update, delete, manage)."""
    return permission != DENY and LEVELS.get(permission, 0) >= ACTIONS[action]
