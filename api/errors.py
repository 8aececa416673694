"""The one place that knows MLflow error codes and HTTP statuses.

Domain errors carry no transport codes; ``endpoint`` wraps every handler and turns them into
MLflow's error body ``{"error_code": ..., "message": ...}`` with the status MLflow's client
expects (reference section 1.4). An unexpected failure is logged and answered with
INTERNAL_ERROR, never a traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from trackledger.eventlog import errors as domain

__all__ = ["ApiError", "endpoint", "error_response"]

log = logging.getLogger("trackledger.api")

STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_CONFLICT": 409,
    "INVALID_STATE": 500,
    "INTERNAL_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

# Most specific first: subclasses before their bases.
_DOMAIN_CODES: list[tuple[type[domain.TrackingError], str, int | None]] = [
    # A reused Idempotency-Key with another body is the IETF draft's 422; MLflow has no
    # such code, so the body names INVALID_PARAMETER_VALUE, which clients do not retry.
    (domain.IdempotencyKeyReused, "INVALID_PARAMETER_VALUE", 422),
    (domain.InvalidInput, "INVALID_PARAMETER_VALUE", None),
    (domain.NotFound, "RESOURCE_DOES_NOT_EXIST", None),
    (domain.AlreadyExists, "RESOURCE_ALREADY_EXISTS", None),
    (domain.NameConflict, "BAD_REQUEST", None),
    (domain.InvalidState, "INVALID_STATE", None),
    (domain.StoreUnavailable, "TEMPORARILY_UNAVAILABLE", None),
]


class ApiError(Exception):
    """An error found at the HTTP edge (bad JSON, wrong content type, unknown route)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status or STATUS[code]


#: Seconds a client is asked to wait before retrying while the store is unavailable.
RETRY_AFTER = "1"


def error_response(code: str, message: str, status: int | None = None) -> Response:
    body = orjson.dumps({"error_code": code, "message": message})
    status = status or STATUS[code]
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _for_domain(exc: domain.TrackingError) -> Response:
    for kind, code, status in _DOMAIN_CODES:
        if isinstance(exc, kind):
            return error_response(code, str(exc), status)
    return error_response("INTERNAL_ERROR", str(exc))


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.code, str(exc), exc.status)
        except domain.TrackingError as exc:
            return _for_domain(exc)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return error_response(
                "INTERNAL_ERROR", "trackledger hit an unexpected error; see the server log"
            )

    return wrapped
