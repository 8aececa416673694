"""The read model of users, tokens, roles and grants, for SQLite and PostgreSQL.

Like every projection table these can be dropped and rebuilt from the log. Rows are never
deleted (ids are never reused): a deleted user or role, a revoked token, a removed role
permission keep their row with the position that ended them, and reads skip them. ``*_pos``
columns hold the log position that wrote a field, so merges are order-independent. A grant
or role assignment whose ``permission``/``assignment_id`` is NULL was revoked.

Users, tokens and roles stay few, so only the lookups that grow with use have an index: a
user by name (logins) and a user's grants (one for every experiment the user creates).
"""

from __future__ import annotations

__all__ = ["AUTH_TABLES", "auth_ddl"]

AUTH_TABLES = (
    "auth_users",
    "auth_tokens",
    "auth_roles",
    "auth_role_permissions",
    "auth_role_users",
    "auth_grants",
)

_TYPES = {"sqlite": ("INTEGER", " WITHOUT ROWID"), "postgres": ("BIGINT", "")}


def auth_ddl(dialect: str, suffix: str = "", generation: int = 0) -> list[str]:
    """DDL for the auth tables (``suffix``: rebuild shadows; ``generation``: index names)."""
    s = suffix
    g = f"_g{generation}"
    i, w = _TYPES[dialect]
    return [
        f"""CREATE TABLE IF NOT EXISTS auth_users{s} (
            user_id {i} PRIMARY KEY,
            username TEXT,
            password_hash TEXT,
            hash_pos {i} NOT NULL DEFAULT 0,
            is_admin {i},
            admin_pos {i} NOT NULL DEFAULT 0,
            created_time {i},
            deleted_time {i},
            deleted_pos {i} NOT NULL DEFAULT 0
        )""",
        # Logins find a user by name.
        f"CREATE INDEX IF NOT EXISTS auth_users_name{g} ON auth_users{s} (username)",
        f"""CREATE TABLE IF NOT EXISTS auth_tokens{s} (
            token_id TEXT PRIMARY KEY,
            user_id {i},
            kind TEXT,
            name TEXT,
            token_hash TEXT,
            created_time {i},
            expires_at {i},
            revoked_time {i},
            revoked_pos {i} NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE IF NOT EXISTS auth_roles{s} (
            role_id {i} PRIMARY KEY,
            name TEXT,
            name_pos {i} NOT NULL DEFAULT 0,
            workspace TEXT,
            description TEXT,
            description_pos {i} NOT NULL DEFAULT 0,
            created_time {i},
            deleted_time {i},
            deleted_pos {i} NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE IF NOT EXISTS auth_role_permissions{s} (
            role_permission_id {i} PRIMARY KEY,
            role_id {i},
            resource_type TEXT,
            resource_pattern TEXT,
            permission TEXT,
            permission_pos {i} NOT NULL DEFAULT 0,
            removed_pos {i} NOT NULL DEFAULT 0
        )""",
        f"""CREATE TABLE IF NOT EXISTS auth_role_users{s} (
            role_id {i} NOT NULL,
            user_id {i} NOT NULL,
            assignment_id {i},
            assigned {i} NOT NULL,
            pos {i} NOT NULL,
            PRIMARY KEY (role_id, user_id)
        ){w}""",
        f"""CREATE TABLE IF NOT EXISTS auth_grants{s} (
            resource_type TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            user_id {i} NOT NULL,
            permission TEXT,
            pos {i} NOT NULL,
            PRIMARY KEY (resource_type, resource_id, user_id)
        ){w}""",
        f"CREATE INDEX IF NOT EXISTS auth_grants_user{g} ON auth_grants{s} (user_id)",
    ]
