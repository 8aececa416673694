"""Read queries over the auth tables: credentials to check, users, tokens, roles, grants.

Same SQL for every backend, through the read model's ``FetchAll`` port. Deleted users and
roles, removed role permissions and revoked grants are skipped.
"""

from __future__ import annotations

from typing import Any

import msgspec

from trackledger.eventlog.access import DEFAULT_WORKSPACE, Grant
from trackledger.projections.sql_reads import FetchAll

__all__ = [
    "AssignmentView",
    "AuthReads",
    "Credentials",
    "GrantView",
    "RolePermissionView",
    "RoleView",
    "TokenCredentials",
    "TokenView",
    "UserView",
]

_LIVE_USER = "u.deleted_pos = 0 AND u.created_time IS NOT NULL"
_LIVE_ROLE = "r.deleted_pos = 0 AND r.created_time IS NOT NULL"


class UserView(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    username: str
    is_admin: bool


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    username: str
    is_admin: bool
    password_hash: str


class TokenCredentials(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    kind: str
    user_id: int
    username: str
    is_admin: bool
    token_hash: str
    expires_at: int | None


class TokenView(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    name: str
    created_time: int
    expires_at: int | None


class RolePermissionView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    role_id: int
    resource_type: str
    resource_pattern: str
    permission: str


class RoleView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    workspace: str
    description: str | None
    permissions: list[RolePermissionView]


class AssignmentView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    role_id: int


class GrantView(msgspec.Struct, frozen=True, kw_only=True):
    resource_type: str
    resource_id: str
    user_id: int
    username: str
    permission: str


def _marks(n: int) -> str:
    return ",".join("?" * n)


class AuthReads:
    def __init__(self, fetchall: FetchAll) -> None:
        self._fetchall = fetchall

    async def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return await self._fetchall(sql, params)

    # -- credentials -----------------------------------------------------------------------

    async def credentials(self, username: str) -> Credentials | None:
        rows = await self._rows(
            f"SELECT u.user_id, u.username, u.is_admin, u.password_hash FROM auth_users u "
            f"WHERE u.username = ? AND {_LIVE_USER} ORDER BY u.user_id DESC LIMIT 1",
            username,
        )
        if not rows:
            return None
        r = rows[0]
        return Credentials(user_id=r[0], username=r[1], is_admin=bool(r[2]), password_hash=r[3])

    async def token_credentials(self, token_id: str) -> TokenCredentials | None:
        """A token that is not revoked, of a user who is not deleted (expiry is the
        caller's to check)."""
        rows = await self._rows(
            "SELECT t.token_id, t.kind, u.user_id, u.username, u.is_admin, t.token_hash, "
            "t.expires_at FROM auth_tokens t JOIN auth_users u ON u.user_id = t.user_id "
            f"WHERE t.token_id = ? AND t.revoked_pos = 0 AND {_LIVE_USER}",
            token_id,
        )
        if not rows:
            return None
        r = rows[0]
        return TokenCredentials(
            token_id=r[0],
            kind=r[1],
            user_id=r[2],
            username=r[3],
            is_admin=bool(r[4]),
            token_hash=r[5],
            expires_at=r[6],
        )

    # -- users -----------------------------------------------------------------------------

    async def user(self, username: str) -> UserView | None:
        found = await self.credentials(username)
        if found is None:
            return None
        return UserView(user_id=found.user_id, username=found.username, is_admin=found.is_admin)

    async def users(self) -> list[UserView]:
        rows = await self._rows(
            f"SELECT u.user_id, u.username, u.is_admin FROM auth_users u WHERE {_LIVE_USER} "
            "ORDER BY u.user_id"
        )
        return [UserView(user_id=r[0], username=r[1], is_admin=bool(r[2])) for r in rows]

    async def users_by_id(self, user_ids: list[int]) -> dict[int, UserView]:
        if not user_ids:
            return {}
        rows = await self._rows(
            f"SELECT u.user_id, u.username, u.is_admin FROM auth_users u "
            f"WHERE u.user_id IN ({_marks(len(user_ids))}) AND {_LIVE_USER}",
            *user_ids,
        )
        return {r[0]: UserView(user_id=r[0], username=r[1], is_admin=bool(r[2])) for r in rows}

    async def has_admin(self) -> bool:
        rows = await self._rows(
            f"SELECT 1 FROM auth_users u WHERE u.is_admin = 1 AND {_LIVE_USER} LIMIT 1"
        )
        return bool(rows)

    async def tokens(self, user_id: int, kind: str = "access") -> list[TokenView]:
        rows = await self._rows(
            "SELECT token_id, name, created_time, expires_at FROM auth_tokens "
            "WHERE user_id = ? AND kind = ? AND revoked_pos = 0 ORDER BY created_time, token_id",
            user_id,
            kind,
        )
        return [
            TokenView(token_id=r[0], name=r[1], created_time=r[2], expires_at=r[3]) for r in rows
        ]

    # -- grants ----------------------------------------------------------------------------

    async def grants_for(self, user_id: int) -> list[Grant]:
        """Every grant that applies to the user: their own and their roles' (in the one
        workspace this server has)."""
        rows = await self._rows(
            "SELECT resource_type, resource_id, permission FROM auth_grants "
            "WHERE user_id = ? AND permission IS NOT NULL "
            "UNION ALL "
            "SELECT p.resource_type, p.resource_pattern, p.permission FROM auth_role_users a "
            "JOIN auth_roles r ON r.role_id = a.role_id "
            "JOIN auth_role_permissions p ON p.role_id = a.role_id "
            f"WHERE a.user_id = ? AND a.assigned = 1 AND {_LIVE_ROLE} AND r.workspace = ? "
            "AND p.removed_pos = 0 AND p.permission IS NOT NULL",
            user_id,
            user_id,
            DEFAULT_WORKSPACE,
        )
        return [Grant(r[0], r[1], r[2]) for r in rows]

    async def direct_grants(self, user_id: int) -> list[GrantView]:
        rows = await self._rows(
            "SELECT g.resource_type, g.resource_id, g.user_id, u.username, g.permission "
            "FROM auth_grants g JOIN auth_users u ON u.user_id = g.user_id "
            "WHERE g.user_id = ? AND g.permission IS NOT NULL "
            "ORDER BY g.resource_type, g.resource_id",
            user_id,
        )
        return [self._grant(r) for r in rows]

    async def grants_on(self, resource_type: str, resource_id: str) -> list[GrantView]:
        """The users granted something on one resource (deleted users left out)."""
        rows = await self._rows(
            "SELECT g.resource_type, g.resource_id, g.user_id, u.username, g.permission "
            "FROM auth_grants g JOIN auth_users u ON u.user_id = g.user_id "
            f"WHERE g.resource_type = ? AND g.resource_id = ? AND g.permission IS NOT NULL "
            f"AND {_LIVE_USER} ORDER BY u.username",
            resource_type,
            resource_id,
        )
        return [self._grant(r) for r in rows]

    @staticmethod
    def _grant(r: tuple[Any, ...]) -> GrantView:
        return GrantView(
            resource_type=r[0], resource_id=r[1], user_id=r[2], username=r[3], permission=r[4]
        )

    # -- roles -----------------------------------------------------------------------------

    async def _roles(self, where: str, *params: Any) -> list[RoleView]:
        rows = await self._rows(
            f"SELECT r.role_id, r.name, r.workspace, r.description FROM auth_roles r "
            f"WHERE {_LIVE_ROLE}{where} ORDER BY r.role_id",
            *params,
        )
        if not rows:
            return []
        ids = [r[0] for r in rows]
        permissions: dict[int, list[RolePermissionView]] = {}
        for p in await self._permissions_of(ids):
            permissions.setdefault(p.role_id, []).append(p)
        return [
            RoleView(
                id=r[0],
                name=r[1],
                workspace=r[2],
                description=r[3],
                permissions=permissions.get(r[0], []),
            )
            for r in rows
        ]

    async def _permissions_of(self, role_ids: list[int]) -> list[RolePermissionView]:
        rows = await self._rows(
            "SELECT role_permission_id, role_id, resource_type, resource_pattern, permission "
            f"FROM auth_role_permissions WHERE role_id IN ({_marks(len(role_ids))}) "
            "AND removed_pos = 0 AND resource_type IS NOT NULL ORDER BY role_permission_id",
            *role_ids,
        )
        return [
            RolePermissionView(
                id=r[0], role_id=r[1], resource_type=r[2], resource_pattern=r[3], permission=r[4]
            )
            for r in rows
        ]

    async def roles(self, workspaces: list[str] | None = None) -> list[RoleView]:
        if not workspaces:
            return await self._roles("")
        return await self._roles(f" AND r.workspace IN ({_marks(len(workspaces))})", *workspaces)

    async def role(self, role_id: int) -> RoleView | None:
        found = await self._roles(" AND r.role_id = ?", role_id)
        return found[0] if found else None

    async def role_permission(self, role_permission_id: int) -> RolePermissionView | None:
        rows = await self._rows(
            "SELECT p.role_permission_id, p.role_id, p.resource_type, p.resource_pattern, "
            "p.permission FROM auth_role_permissions p JOIN auth_roles r "
            f"ON r.role_id = p.role_id WHERE p.role_permission_id = ? AND {_LIVE_ROLE} "
            "AND p.removed_pos = 0",
            role_permission_id,
        )
        if not rows:
            return None
        r = rows[0]
        return RolePermissionView(
            id=r[0], role_id=r[1], resource_type=r[2], resource_pattern=r[3], permission=r[4]
        )

    async def user_roles(self, user_id: int) -> list[RoleView]:
        return await self._roles(
            " AND r.role_id IN (SELECT role_id FROM auth_role_users "
            "WHERE user_id = ? AND assigned = 1)",
            user_id,
        )

    async def role_users(self, role_id: int) -> list[AssignmentView]:
        rows = await self._rows(
            "SELECT a.assignment_id, a.user_id, a.role_id FROM auth_role_users a "
            f"JOIN auth_users u ON u.user_id = a.user_id WHERE a.role_id = ? "
            f"AND a.assigned = 1 AND {_LIVE_USER} ORDER BY a.assignment_id",
            role_id,
        )
        return [AssignmentView(id=r[0], user_id=r[1], role_id=r[2]) for r in rows]

    # -- what a request touches ------------------------------------------------------------

    async def run_experiment(self, run_id: str) -> str | None:
        """The experiment a run belongs to (a run never moves)."""
        rows = await self._rows(
            "SELECT experiment_id FROM runs WHERE run_id = ? AND experiment_id IS NOT NULL",
            run_id,
        )
        return str(rows[0][0]) if rows else None

    async def trace_experiment(self, trace_id: str) -> str | None:
        """The experiment a trace belongs to (a trace never moves)."""
        rows = await self._rows(
            "SELECT experiment_id FROM traces WHERE trace_id = ? AND experiment_id IS NOT NULL",
            trace_id,
        )
        return str(rows[0][0]) if rows else None

    async def experiment_named(self, name: str) -> str | None:
        rows = await self._rows(
            "SELECT experiment_id FROM experiments WHERE name = ? AND name IS NOT NULL", name
        )
        return str(rows[0][0]) if rows else None

    async def model_experiment(self, model_id: str) -> str | None:
        """The experiment a logged model belongs to (it never moves)."""
        rows = await self._rows(
            "SELECT experiment_id FROM logged_models WHERE model_id = ? "
            "AND experiment_id IS NOT NULL",
            model_id,
        )
        return str(rows[0][0]) if rows else None
