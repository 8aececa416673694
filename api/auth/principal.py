"""Who a request acts as, once authenticated, and where the guard leaves it."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request

__all__ = ["PRINCIPAL", "SCOPED_BACKEND", "Principal", "principal_of"]

#: ASGI scope keys the guard sets for the handler.
PRINCIPAL = "trackledger.principal"
SCOPED_BACKEND = "trackledger.backend"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    username: str
    is_admin: bool
    #: How the request proved it: basic, token or session.
    via: str
    token_id: str | None = None


def principal_of(request: Request | dict[str, Any]) -> Principal | None:
    scope = request.scope if isinstance(request, Request) else request
    found = scope.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None
