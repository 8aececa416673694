"""The one place that knows MLflow error codes and HTTP statuses.

Handlers and the code below them raise; they never build an error response. The app
registers ``exception_handlers()`` once, and starlette picks the handler by the class of
what was raised (the most specific one wins):

- ``ApiError``: a problem found at the HTTP edge (bad JSON, a wrong type, a bad limit);
- each domain error (``trackledger.eventlog.errors``) and each artifact-path error: its
  MLflow code;
- ``HTTPException`` from routing: 404 is ENDPOINT_NOT_FOUND, 405 too (with ``Allow``);
- anything else: a 500 INTERNAL_ERROR naming a request id, which the server log repeats
  beside the traceback. The client sees neither the traceback nor the exception's text.

Every answer is MLflow's error body ``{"error_code": ..., "message": ...}`` with the status
MLflow's client expects (reference section 1.4).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, compile_path

from trackledger.eventlog import errors as domain
from trackledger.services.artifact_store import PathConflict, UnsafePath
from trackledger.services.multipart import UnknownUpload, UploadRefused

__all__ = ["REQUEST_ID_HEADER", "ApiError", "error_response", "exception_handlers"]

log = logging.getLogger("trackledger.api")

#: Names the request of an unexpected error, in the response and in the server log.
REQUEST_ID_HEADER = "X-Request-Id"

STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INVALID_STATE": 500,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

#: The code for an HTTP status raised by routing or by starlette itself (MLflow's client
#: maps statuses the same way when a body is not JSON: ``HTTP_STATUS_TO_ERROR_CODE``).
_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
}

#: Domain errors and their MLflow code; a status of None is the code's own status.
_DOMAIN_CODES: list[tuple[type[Exception], str, int | None]] = [
    # A reused Idempotency-Key with another body is the IETF draft's 422; MLflow has no
    # such code, so the body names INVALID_PARAMETER_VALUE, which clients do not retry.
    (domain.IdempotencyKeyReused, "INVALID_PARAMETER_VALUE", 422),
    (domain.InvalidInput, "INVALID_PARAMETER_VALUE", None),
    (domain.NotFound, "RESOURCE_DOES_NOT_EXIST", None),
    (domain.AlreadyExists, "RESOURCE_ALREADY_EXISTS", None),
    (domain.NameConflict, "BAD_REQUEST", None),
    (domain.InvalidState, "INVALID_STATE", None),
    (domain.StoreUnavailable, "TEMPORARILY_UNAVAILABLE", None),
    # Any other TrackingError still carries a message meant for the user.
    (domain.TrackingError, "INTERNAL_ERROR", None),
    # Artifact paths (MLflow's validate_path_is_safe answers INVALID_PARAMETER_VALUE).
    (UnsafePath, "INVALID_PARAMETER_VALUE", None),
    (PathConflict, "INVALID_PARAMETER_VALUE", None),
    # Multipart uploads the object store does not know, or will not assemble.
    (UnknownUpload, "RESOURCE_DOES_NOT_EXIST", None),
    (UploadRefused, "INVALID_PARAMETER_VALUE", None),
]


class ApiError(Exception):
    """An error found at the HTTP edge (bad JSON, wrong content type, a bad parameter)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or STATUS[code]


#: Seconds a client is asked to wait before retrying while the store is unavailable.
RETRY_AFTER = "1"


def error_response(
    code: str,
    message: str,
    status: int | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = orjson.dumps({"error_code": code, "message": message, **(extra or {})})
    status = status or STATUS[code]
    if status == 503:
        headers = {"Retry-After": RETRY_AFTER, **(headers or {})}
    return Response(body, status_code=status, headers=headers, media_type="application/json")


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, str(exc), exc.status)


def _coded(code: str, status: int | None) -> ExceptionHandler:
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(code, str(exc), status)

    return handler


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        # MLflow's client keys its fallbacks on ENDPOINT_NOT_FOUND; never
        # RESOURCE_DOES_NOT_EXIST for a route that does not exist (reference 1.5).
        message = f"No endpoint {where} on this server."
    elif exc.status_code == 405:
        # Starlette names the methods of the first route with this path; name them all.
        allowed = _allowed_methods(request.app.routes, request.url.path) or {"GET"}
        headers["Allow"] = ", ".join(sorted(allowed))
        message = f"No endpoint {where} on this server; this path answers {headers['Allow']}."
    else:
        message = str(exc.detail)
    fallback = "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR"
    code = _CODE_FOR_STATUS.get(exc.status_code, fallback)
    return error_response(code, message, exc.status_code, headers=headers)


def _allowed_methods(routes: Sequence[BaseRoute], path: str, prefix: str = "") -> set[str]:
    """The methods of every route (inside mounts too) whose pattern matches ``path``."""
    allowed: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            inside = prefix + route.path
            if route.routes:
                allowed |= _allowed_methods(route.routes, path, inside)
            elif path.startswith(inside + "/"):  # a mounted app (static files)
                allowed |= {"GET", "HEAD"}
        elif isinstance(route, Route) and route.methods:
            if compile_path(prefix + route.path)[0].match(path):
                allowed |= route.methods
    return allowed


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug or a broken dependency: the traceback goes to the server log under a request
    id; the client gets the id, never the traceback or the exception's text."""
    request_id = uuid.uuid4().hex
    log.error(
        "request %s: unexpected error in %s %r",  # %r: a path cannot forge log lines
        request_id,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return error_response(
        "INTERNAL_ERROR",
        f"trackledger hit an unexpected error; the server log has the details under "
        f"request id {request_id}.",
        headers={REQUEST_ID_HEADER: request_id},
        extra={"request_id": request_id},
    )


def exception_handlers() -> dict[Any, ExceptionHandler]:
    """Starlette's ``exception_handlers`` for the app: by class, most specific first.

    The handler for ``Exception`` runs in starlette's ServerErrorMiddleware, which sends
    its answer and then re-raises, so the server also logs the failure.
    """
    handlers: dict[Any, ExceptionHandler] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        Exception: _unexpected,
    }
    for kind, code, status in _DOMAIN_CODES:
        handlers[kind] = _coded(code, status)
    return handlers
