"""The web UI: one HTML page at ``/`` and its scripts and styles under ``/static``.

The UI is plain ES modules and CSS shipped inside the package: no build step, no CDN, so
``pip install`` is all a user needs and the page works without a network. It talks to the
server only through the JSON APIs (MLflow's and trackledger's own).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["routes"]

STATIC = Path(__file__).parent / "static"

#: Scripts, styles and images from this server only; artifacts preview as images or text.
_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


async def index(request: Request) -> Response:
    return FileResponse(
        STATIC / "index.html",
        headers={"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache"},
    )


routes: list[BaseRoute] = [
    Route("/", index, methods=["GET", "HEAD"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
