"""Repeated slashes in a request's path count as one, as in MLflow's server (werkzeug
merges them): a tracking URI given with a trailing slash (``http://host:5000/``) makes
the client ask for ``//api/2.0/mlflow/...``, which then finds its route.

Only the slashes sent as slashes are merged: an encoded one (``%2f``) is part of a name,
and an artifact path that starts with one is still refused as absolute."""

from __future__ import annotations

import re
import urllib.parse

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["MergeSlashes"]

_REPEATED = re.compile(rb"/{2,}")


class MergeSlashes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") if scope["type"] in ("http", "websocket") else None
        if raw and b"//" in raw:
            merged = _REPEATED.sub(b"/", raw)
            path = urllib.parse.unquote(merged.decode("ascii", "replace"))
            scope = {**scope, "raw_path": merged, "path": path}
        await self.app(scope, receive, send)
