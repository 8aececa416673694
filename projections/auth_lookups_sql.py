"""Answer the auth decisions' lookups from the auth tables, inside the append transaction.

Each answer is a query (``?`` placeholders) and a conversion of its rows, as in
``sql_lookups.py``. ``Claim`` takes a transaction-scoped advisory lock on PostgreSQL in a
statement of its own; on SQLite the one writer already serializes decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackledger.eventlog import auth_lookups as q

__all__ = ["auth_lookup_query"]

Rows = list[tuple[Any, ...]]
Query = tuple[str, tuple[Any, ...], Callable[[Rows], Any]]

#: Where each kind of id is handed out from: ids are never reused, so the largest one in the
#: table (rows are never deleted) is the last one handed out.
_ID_SOURCES = {
    "user": ("auth_users", "user_id"),
    "role": ("auth_roles", "role_id"),
    "role_permission": ("auth_role_permissions", "role_permission_id"),
    "assignment": ("auth_role_users", "assignment_id"),
}

_LIVE_USER = "deleted_pos = 0 AND created_time IS NOT NULL"
_LIVE_ROLE = "deleted_pos = 0 AND created_time IS NOT NULL"


def _first(convert: Callable[[tuple[Any, ...]], Any]) -> Callable[[Rows], Any]:
    return lambda rows: convert(rows[0]) if rows else None


def _role(row: tuple[Any, ...]) -> q.RoleState:
    return q.RoleState(role_id=row[0], name=row[1], workspace=row[2], description=row[3])


def _role_permission(row: tuple[Any, ...]) -> q.RolePermissionState:
    return q.RolePermissionState(
        role_permission_id=row[0],
        role_id=row[1],
        resource_type=row[2],
        resource_pattern=row[3],
        permission=row[4],
    )


def _token(row: tuple[Any, ...]) -> q.TokenState:
    return q.TokenState(
        token_id=row[0], user_id=row[1], name=row[2], kind=row[3], revoked=bool(row[4])
    )


_ROLE_COLUMNS = "role_id, name, workspace, description"
_PERMISSION_COLUMNS = (
    "p.role_permission_id, p.role_id, p.resource_type, p.resource_pattern, p.permission"
)
_TOKEN_COLUMNS = "token_id, user_id, name, kind, revoked_pos > 0"


def auth_lookup_query(lookup: Any, dialect: str) -> Query | None:  # noqa: C901 - one case each
    """The query answering ``lookup``, or None when it is not an auth lookup."""
    match lookup:
        case q.Claim():
            if dialect == "postgres":
                return (
                    "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
                    (lookup.key,),
                    lambda rows: None,
                )
            return ("SELECT 1", (), lambda rows: None)
        case q.GetUser():
            return (
                f"SELECT user_id, username, is_admin FROM auth_users WHERE username = ? "
                f"AND {_LIVE_USER} ORDER BY user_id DESC LIMIT 1",
                (lookup.username,),
                _first(lambda r: q.UserState(user_id=r[0], username=r[1], is_admin=bool(r[2]))),
            )
        case q.NextAuthId():
            table, column = _ID_SOURCES[lookup.kind]
            return (
                f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}",
                (),
                lambda rows: int(rows[0][0]),
            )
        case q.GetUserTokens():
            return (
                f"SELECT {_TOKEN_COLUMNS} FROM auth_tokens WHERE user_id = ? ORDER BY token_id",
                (lookup.user_id,),
                lambda rows: [_token(r) for r in rows],
            )
        case q.GetToken():
            return (
                f"SELECT {_TOKEN_COLUMNS} FROM auth_tokens WHERE token_id = ? "
                "AND created_time IS NOT NULL",
                (lookup.token_id,),
                _first(_token),
            )
        case q.GetRole():
            return (
                f"SELECT {_ROLE_COLUMNS} FROM auth_roles WHERE role_id = ? AND {_LIVE_ROLE}",
                (lookup.role_id,),
                _first(_role),
            )
        case q.GetRoleByName():
            return (
                f"SELECT {_ROLE_COLUMNS} FROM auth_roles WHERE workspace = ? AND name = ? "
                f"AND {_LIVE_ROLE}",
                (lookup.workspace, lookup.name),
                _first(_role),
            )
        case q.GetRolePermission():
            return (
                f"SELECT {_PERMISSION_COLUMNS} FROM auth_role_permissions p JOIN auth_roles r "
                "ON r.role_id = p.role_id AND r.deleted_pos = 0 "
                "WHERE p.role_permission_id = ? AND p.removed_pos = 0 "
                "AND p.resource_type IS NOT NULL",
                (lookup.role_permission_id,),
                _first(_role_permission),
            )
        case q.GetRolePermissionFor():
            return (
                f"SELECT {_PERMISSION_COLUMNS} FROM auth_role_permissions p WHERE p.role_id = ? "
                "AND p.resource_type = ? AND p.resource_pattern = ? AND p.removed_pos = 0",
                (lookup.role_id, lookup.resource_type, lookup.resource_pattern),
                _first(_role_permission),
            )
        case q.GetAssignment():
            return (
                "SELECT assignment_id FROM auth_role_users WHERE role_id = ? AND user_id = ? "
                "AND assigned = 1",
                (lookup.role_id, lookup.user_id),
                _first(lambda r: int(r[0])),
            )
        case q.GetGrant():
            return (
                "SELECT permission FROM auth_grants WHERE resource_type = ? AND resource_id = ? "
                "AND user_id = ? AND permission IS NOT NULL",
                (lookup.resource_type, lookup.resource_id, lookup.user_id),
                _first(lambda r: str(r[0])),
            )
    return None
