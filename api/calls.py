"""What every handler needs from its request: the backend, the actor, idempotency, enums."""

from __future__ import annotations

import base64
import binascii
import hashlib

import msgspec
from starlette.requests import Request

from trackledger.api.auth.principal import SCOPED_BACKEND, principal_of
from trackledger.api.errors import ApiError
from trackledger.api.wire import refuse_nul
from trackledger.eventlog.commands import AnyCommand, CreateExperiment, CreateRun
from trackledger.eventlog.registry_commands import CreateRegisteredModel
from trackledger.eventlog.results import AnyResult
from trackledger.eventlog.store import Idempotency
from trackledger.eventlog.validation import check_experiment_id, missing
from trackledger.services.backends import Backend

__all__ = [
    "backend",
    "execute",
    "experiment_id",
    "experiment_ids",
    "path_param",
    "required",
    "run_status",
    "view_type",
]

_RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_VIEW_TYPE = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}
MAX_IDEMPOTENCY_KEY_LENGTH = 255
#: Experiments one request may name: far more than people select, and few enough that a
#: filter's values fit beside them in PostgreSQL's 32767 query parameters.
MAX_EXPERIMENT_IDS = 10_000


def backend(request: Request) -> Backend:
    """The backend, as the caller may see it (with authentication on, searches leave out
    what they may not read)."""
    found: Backend = request.scope.get(SCOPED_BACKEND) or request.app.state.backend
    return found


def actor(request: Request) -> str | None:
    """The user behind the request: with authentication on, the authenticated user; else
    the Basic-auth user name the MLflow client sends when MLFLOW_TRACKING_USERNAME is set
    (unchecked: what the client claims), or None."""
    principal = principal_of(request)
    if principal is not None:
        return principal.username
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return refuse_nul(decoded.split(":", 1)[0], "Authorization") or None
    return None


async def _idempotency(request: Request) -> Idempotency | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or "\x00" in key:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters long, "
            "without NUL.",
        )
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.url.path.encode())
    digest.update(b"\0")
    digest.update(await request.body())
    return Idempotency(key, digest.digest())


async def execute(request: Request, command: AnyCommand, *, user: str | None = None) -> AnyResult:
    """Run ``command`` for this request: the actor is the authenticated user, else ``user``.

    With authentication on, a created run belongs to the authenticated user whatever the
    request says, and the creator of an experiment or registered model gets MANAGE on it."""
    principal = principal_of(request)
    if principal is not None:
        if isinstance(command, CreateRun):
            command = msgspec.structs.replace(command, user_id=principal.username)
        elif isinstance(command, (CreateExperiment, CreateRegisteredModel)):
            command = msgspec.structs.replace(
                command, owner_id=principal.user_id, owner_name=principal.username
            )
    return await backend(request).store.execute(
        command,
        actor=actor(request) or user,
        idempotency=await _idempotency(request),
    )


def path_param(request: Request, name: str) -> str:
    """A parameter from the URL path (URL-decoded, so it may hold a NUL)."""
    value: str = request.path_params[name]
    return refuse_nul(value, name)


def required(value: str | None, name: str) -> str:
    if value is None or value == "":
        raise missing(name)
    return value


def experiment_id(value: str | None, name: str = "experiment_id") -> str:
    """A required experiment id that must be an integer (as MLflow's SQL store demands)."""
    text = required(value, name)
    check_experiment_id(text)
    return text


def experiment_ids(values: list[str], name: str = "experiment_id") -> list[int]:
    """Experiment ids (integers, as MLflow's SQL store demands), at most
    ``MAX_EXPERIMENT_IDS`` of them."""
    if len(values) > MAX_EXPERIMENT_IDS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value for parameter 'experiment_ids': at most {MAX_EXPERIMENT_IDS} "
            f"experiments, got {len(values)}.",
        )
    return [int(experiment_id(value, name)) for value in values]


def _enum(value: str | int | None, names: dict[int, str], field: str, default: str) -> str:
    if value is None or value == "":
        return default
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        name = names.get(int(value))
    else:
        name = value.upper() if value.upper() in names.values() else None
    if name is None:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {value!r} for parameter '{field}' supplied. It must be one of "
            f"{', '.join(names.values())}.",
        )
    return name


def run_status(value: str | int | None) -> str | None:
    return None if value is None else _enum(value, _RUN_STATUS, "status", "RUNNING")


def view_type(value: str | int | None, field: str) -> str:
    return _enum(value, _VIEW_TYPE, field, "ACTIVE_ONLY")
