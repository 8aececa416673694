"""A size limit on request bodies, enforced before the body is held in memory.

A 100 MB log-batch took the server to 884 MB before it was refused. Here a body announced
larger than the limit is refused at once (413, MLflow's error shape, connection closed)
without reading it, and a body without a length is counted as it streams in and refused as
soon as it passes the limit. Artifact uploads stream to the store and are not limited.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackledger.api.errors import ApiError, error_response

__all__ = ["BodyLimit", "BodyTooLarge"]

#: Paths whose bodies stream to storage instead of being decoded (the proxy's uploads; its
#: multipart calls are JSON and limited like any other).
_STREAMED = ("/api/2.0/mlflow-artifacts/artifacts/", "/ajax-api/2.0/mlflow-artifacts/artifacts/")


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "INVALID_PARAMETER_VALUE",
            f"The request body is larger than this server's limit of {limit:,} bytes "
            "(trackledger server --max-body-mb).",
            status=413,
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_STREAMED):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                too_large = BodyTooLarge(limit)
                response = error_response(too_large.code, str(too_large), too_large.status)
                response.headers["connection"] = "close"
                await response(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
