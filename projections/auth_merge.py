"""The auth tables' order-independent merges, as SQL and rows, for every backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from trackledger.projections import auth_changes as ch

__all__ = ["AuthStatements", "AuthStep", "auth_plan", "auth_statements"]


def _lww(column: str, pos: str) -> str:
    """``column`` replaced only by a write from a later position."""
    return (
        f"{column} = CASE WHEN excluded.{pos} > t.{pos} THEN excluded.{column} ELSE t.{column} END"
    )


_USER = """
INSERT INTO auth_users{s} AS t (user_id, username, password_hash, hash_pos, is_admin, admin_pos,
    created_time, deleted_time, deleted_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    username = COALESCE(t.username, excluded.username),
    {hash},
    hash_pos = {greatest}(excluded.hash_pos, t.hash_pos),
    {admin},
    admin_pos = {greatest}(excluded.admin_pos, t.admin_pos),
    created_time = COALESCE(t.created_time, excluded.created_time),
    {deleted},
    deleted_pos = {greatest}(excluded.deleted_pos, t.deleted_pos)
"""

_TOKEN = """
INSERT INTO auth_tokens{s} AS t (token_id, user_id, kind, name, token_hash, created_time,
    expires_at, revoked_time, revoked_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (token_id) DO UPDATE SET
    user_id = COALESCE(t.user_id, excluded.user_id),
    kind = COALESCE(t.kind, excluded.kind),
    name = COALESCE(t.name, excluded.name),
    token_hash = COALESCE(t.token_hash, excluded.token_hash),
    created_time = COALESCE(t.created_time, excluded.created_time),
    expires_at = COALESCE(t.expires_at, excluded.expires_at),
    {revoked},
    revoked_pos = {greatest}(excluded.revoked_pos, t.revoked_pos)
"""

_ROLE = """
INSERT INTO auth_roles{s} AS t (role_id, name, name_pos, workspace, description,
    description_pos, created_time, deleted_time, deleted_pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (role_id) DO UPDATE SET
    {name},
    name_pos = {greatest}(excluded.name_pos, t.name_pos),
    workspace = COALESCE(t.workspace, excluded.workspace),
    {description},
    description_pos = {greatest}(excluded.description_pos, t.description_pos),
    created_time = COALESCE(t.created_time, excluded.created_time),
    {deleted},
    deleted_pos = {greatest}(excluded.deleted_pos, t.deleted_pos)
"""

_ROLE_PERMISSION = """
INSERT INTO auth_role_permissions{s} AS t (role_permission_id, role_id, resource_type,
    resource_pattern, permission, permission_pos, removed_pos)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (role_permission_id) DO UPDATE SET
    role_id = COALESCE(t.role_id, excluded.role_id),
    resource_type = COALESCE(t.resource_type, excluded.resource_type),
    resource_pattern = COALESCE(t.resource_pattern, excluded.resource_pattern),
    {permission},
    permission_pos = {greatest}(excluded.permission_pos, t.permission_pos),
    removed_pos = {greatest}(excluded.removed_pos, t.removed_pos)
"""

# Assignment ids grow with the log, so the latest assignment holds the largest id, and the
# largest id ever handed out stays in the table (ids are never reused).
_ASSIGNMENT = """
INSERT INTO auth_role_users{s} AS t (role_id, user_id, assignment_id, assigned, pos)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (role_id, user_id) DO UPDATE SET
    assignment_id = NULLIF({greatest}(COALESCE(t.assignment_id, 0),
        COALESCE(excluded.assignment_id, 0)), 0),
    assigned = CASE WHEN excluded.pos > t.pos THEN excluded.assigned ELSE t.assigned END,
    pos = {greatest}(excluded.pos, t.pos)
"""

_GRANT = """
INSERT INTO auth_grants{s} AS t (resource_type, resource_id, user_id, permission, pos)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (resource_type, resource_id, user_id) DO UPDATE SET
    permission = excluded.permission, pos = excluded.pos
WHERE excluded.pos > t.pos
"""

_FUNCTIONS = {"sqlite": "MAX", "postgres": "GREATEST"}


class AuthStatements(NamedTuple):
    user: str
    token: str
    role: str
    role_permission: str
    assignment: str
    grant: str
    drop_grants: str


def auth_statements(dialect: str, suffix: str = "") -> AuthStatements:
    f = {"greatest": _FUNCTIONS[dialect], "s": suffix}
    return AuthStatements(
        user=_USER.format(
            hash=_lww("password_hash", "hash_pos"),
            admin=_lww("is_admin", "admin_pos"),
            deleted=_lww("deleted_time", "deleted_pos"),
            **f,
        ),
        token=_TOKEN.format(revoked=_lww("revoked_time", "revoked_pos"), **f),
        role=_ROLE.format(
            name=_lww("name", "name_pos"),
            description=_lww("description", "description_pos"),
            deleted=_lww("deleted_time", "deleted_pos"),
            **f,
        ),
        role_permission=_ROLE_PERMISSION.format(
            permission=_lww("permission", "permission_pos"), **f
        ),
        assignment=_ASSIGNMENT.format(**f),
        grant=_GRANT.format(**f),
        drop_grants=(
            f"DELETE FROM auth_grants{suffix} WHERE resource_type = ? AND resource_id = ?"
        ),
    )


class AuthStep(NamedTuple):
    sql: str
    rows: list[tuple[Any, ...]]


def _at(pos: int, value: object) -> int:
    return pos if value is not None else 0


def auth_plan(sql: AuthStatements, change: ch.AuthChange) -> Iterator[AuthStep]:
    match change:
        case ch.SetUser():
            u = change
            admin = None if u.is_admin is None else int(u.is_admin)
            yield AuthStep(
                sql.user,
                [
                    (
                        u.user_id,
                        u.username,
                        u.password_hash,
                        _at(u.pos, u.password_hash),
                        admin,
                        _at(u.pos, admin),
                        u.created_time,
                        u.deleted_time,
                        _at(u.pos, u.deleted_time),
                    )
                ],
            )
        case ch.SetToken():
            t = change
            yield AuthStep(
                sql.token,
                [
                    (
                        t.token_id,
                        t.user_id,
                        t.kind,
                        t.name,
                        t.token_hash,
                        t.created_time,
                        t.expires_at,
                        t.revoked_time,
                        _at(t.pos, t.revoked_time),
                    )
                ],
            )
        case ch.SetRole():
            r = change
            yield AuthStep(
                sql.role,
                [
                    (
                        r.role_id,
                        r.name,
                        _at(r.pos, r.name),
                        r.workspace,
                        r.description,
                        _at(r.pos, r.description),
                        r.created_time,
                        r.deleted_time,
                        _at(r.pos, r.deleted_time),
                    )
                ],
            )
        case ch.SetRolePermission():
            p = change
            yield AuthStep(
                sql.role_permission,
                [
                    (
                        p.role_permission_id,
                        p.role_id,
                        p.resource_type,
                        p.resource_pattern,
                        p.permission,
                        _at(p.pos, p.permission),
                        p.pos if p.removed else 0,
                    )
                ],
            )
        case ch.SetAssignment():
            a = change
            assigned = 0 if a.assignment_id is None else 1
            row = (a.role_id, a.user_id, a.assignment_id, assigned, a.pos)
            yield AuthStep(sql.assignment, [row])
        case ch.SetGrant():
            g = change
            yield AuthStep(
                sql.grant, [(g.resource_type, g.resource_id, g.user_id, g.permission, g.pos)]
            )
        case ch.DropGrants():
            yield AuthStep(sql.drop_grants, [(change.resource_type, change.resource_id)])
