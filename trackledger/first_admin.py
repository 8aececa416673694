"""The first admin of a server started with ``--auth``.

With no admin in the store, the server creates one from ``TRACKLEDGER_ADMIN_USERNAME`` and
``TRACKLEDGER_ADMIN_PASSWORD`` (an existing user of that name is made an admin and gets that
password), or refuses to start and says how. Once an admin exists the variables are not
needed (and are ignored).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from trackledger.eventlog.auth_commands import ChangePassword, CreateUser, SetAdmin
from trackledger.eventlog.errors import InvalidInput
from trackledger.services import secrets
from trackledger.services.backends import Backend

__all__ = ["ADMIN_PASSWORD", "ADMIN_USERNAME", "MissingAdmin", "ensure_admin"]

ADMIN_USERNAME = "TRACKLEDGER_ADMIN_USERNAME"
ADMIN_PASSWORD = "TRACKLEDGER_ADMIN_PASSWORD"
ACTOR = "trackledger server (first admin)"


class MissingAdmin(ValueError):
    pass


async def ensure_admin(backend: Backend, environ: Mapping[str, str]) -> str | None:
    """Create the first admin if there is none; return its name if one was made."""
    if await backend.auth.has_admin():
        return None
    username = environ.get(ADMIN_USERNAME, "")
    password = environ.get(ADMIN_PASSWORD, "")
    if not username or not password:
        raise MissingAdmin(
            f"--auth needs an admin and this store has none: set {ADMIN_USERNAME} and "
            f"{ADMIN_PASSWORD} (at least {secrets.MIN_PASSWORD_LENGTH} characters) and start "
            "the server again"
        )
    try:
        secrets.check_password_policy(password)
    except ValueError as exc:
        raise MissingAdmin(f"{ADMIN_PASSWORD}: {exc}") from None
    hashed = await asyncio.to_thread(secrets.hash_password, password)
    store = backend.store
    try:
        if await backend.auth.user(username) is None:
            await store.execute(
                CreateUser(username=username, password_hash=hashed, is_admin=True), actor=ACTOR
            )
        else:
            change = ChangePassword(username=username, password_hash=hashed)
            await store.execute(change, actor=ACTOR)
            await store.execute(SetAdmin(username=username, is_admin=True), actor=ACTOR)
    except InvalidInput as exc:
        raise MissingAdmin(f"{ADMIN_USERNAME}: {exc}") from None
    return username
