"""The kinds of permission a route can need, and how each finds the resource it is about.

A rule reads the request the way the route's handler will (``wire.read``, the same field
names, defaults and spellings), so it judges the very resource the handler then touches.
When the request names no resource, the handler refuses it anyway (a missing required
parameter), so the rule lets it through to get MLflow's 400; when the resource does not
exist, the handler answers 404 as it would without authentication.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.types import Message, Receive, Scope

from trackledger.api.auth.access import AccessControl
from trackledger.api.auth.principal import Principal
from trackledger.api.wire import DECODED, read, read_body
from trackledger.eventlog import access
from trackledger.projections.auth_reads import AuthReads
from trackledger.projections.registry_reads import RegistryReads

__all__ = [
    "ADMIN",
    "PUBLIC",
    "USER",
    "Context",
    "OnArtifactPath",
    "OnExperiment",
    "OnExperimentNamed",
    "OnGrantTarget",
    "OnHeaderExperiment",
    "OnLoggedModel",
    "OnRegisteredModel",
    "OnRun",
    "OnRuns",
    "OnTrace",
    "OnTraceStart",
    "Rule",
    "SelfOrAdmin",
    "SelfOrManager",
]

T = TypeVar("T")


class Context:
    """One request as a rule sees it: who asks, and its parameters on demand. A body a rule
    reads is replayed to the handler (``receive``)."""

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        principal: Principal,
        reads: AuthReads,
        access_control: AccessControl,
        registry: RegistryReads | None = None,
    ) -> None:
        self.scope = scope
        self.principal = principal
        self.reads = reads
        self.access = access_control
        self.registry = registry
        self._receive = receive
        self._body: bytes | None = None

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    async def _read_body(self) -> bytes:
        if self._body is None:
            chunks = []
            while True:
                message = await self._receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._body = b"".join(chunks)
        return self._body

    def receive(self) -> Receive:
        """A ``receive`` that gives the body again (once), then what the client sends."""
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if self._body is not None and not sent:
                sent = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            return await self._receive()

        return replay

    async def params(
        self, kind: type[T], lists: frozenset[str] = frozenset(), share: bool = False
    ) -> T:
        """The request's parameters as ``kind``, read as the handler reads them; with
        ``share`` (``kind`` is the handler's own type), the handler gets this value."""
        value = await self._params(kind, lists)
        if share:
            # The handler's own read would give exactly this (wire.read_body).
            self.scope[DECODED] = (kind, value)
        return value

    async def _params(self, kind: type[T], lists: frozenset[str]) -> T:
        if self.scope["method"] in ("GET", "HEAD") and self.scope.get("query_string"):
            return await read(Request(self.scope, self._receive), kind, lists)
        content_type = None
        for key, value in self.scope.get("headers", ()):
            if key == b"content-type":
                content_type = value.decode("latin-1")
                break
        return read_body(self.scope["method"], content_type, await self._read_body(), kind)

    async def raw_body(self) -> bytes:
        """The body as sent (replayed to the handler)."""
        return await self._read_body()

    @property
    def replays(self) -> bool:
        return self._body is not None

    async def allowed(self, resource_type: str, resource_id: str, action: str) -> bool:
        return await self.access.allowed(
            self.reads, self.principal, resource_type, resource_id, action
        )


class Rule:
    """Anyone authenticated; subclasses narrow it."""

    public = False
    #: Shown in the permission table's description.
    text = "any authenticated user"

    async def check(self, ctx: Context) -> bool:
        return True


class _Public(Rule):
    public = True
    text = "anyone (no credential needed)"


class _Admin(Rule):
    text = "admins"

    async def check(self, ctx: Context) -> bool:
        return ctx.principal.is_admin


PUBLIC: Rule = _Public()
USER: Rule = Rule()
ADMIN: Rule = _Admin()


class ExperimentRef(msgspec.Struct):
    experiment_id: str | None = None


class ExperimentNameRef(msgspec.Struct):
    experiment_name: str | None = None


class RunRef(msgspec.Struct):
    run_id: str | None = None
    run_uuid: str | None = None


class ModelRef(msgspec.Struct):
    model_id: str | None = None


class RunIdsRef(msgspec.Struct):
    run_ids: list[str] = []


class RepeatedRunIdRef(msgspec.Struct):
    """``run_id`` given several times (MLflow's get-history-bulk)."""

    run_id: list[str] = []


class ModelNameRef(msgspec.Struct):
    name: str | None = None
    registered_model_id: str | None = None


class ArtifactRef(msgspec.Struct):
    path: str | None = None


class UserRef(msgspec.Struct):
    username: str | None = None


class GrantRef(msgspec.Struct):
    resource_type: str | None = None
    resource_id: str | None = None


class OnExperiment(Rule):
    """``action`` on the experiment named by ``experiment_id`` (``default`` when the request
    gives none, as runs/create falls back to experiment 0)."""

    def __init__(self, action: str, default: str | None = None) -> None:
        self.action = action
        self.default = default
        self.text = f"{action} on the experiment"

    async def check(self, ctx: Context) -> bool:
        experiment_id = (await ctx.params(ExperimentRef)).experiment_id or self.default
        if not experiment_id:
            return True  # the handler refuses a missing experiment_id
        return await ctx.allowed(access.EXPERIMENT, str(experiment_id), self.action)


class OnExperimentNamed(Rule):
    def __init__(self, action: str) -> None:
        self.action = action
        self.text = f"{action} on the experiment"

    async def check(self, ctx: Context) -> bool:
        name = (await ctx.params(ExperimentNameRef)).experiment_name
        if not name:
            return True
        experiment_id = await ctx.reads.experiment_named(name)
        if experiment_id is None:
            return True  # 404 from the handler
        return await ctx.allowed(access.EXPERIMENT, experiment_id, self.action)


class OnRun(Rule):
    """``action`` on the experiment of the run named by ``run_id`` (or ``run_uuid``).

    ``body``: the handler's own request type, for the logging calls a client makes most: the
    body is then decoded once, here, and the handler takes the result. ``query``: the run
    is named in the query string of a request whose body is a file (MLflow's UI's
    upload-artifact)."""

    def __init__(
        self, action: str, body: type[Any] | None = None, *, query: bool = False
    ) -> None:
        self.action = action
        self.body = body
        self.query = query
        self.text = f"{action} on the run's experiment"

    async def check(self, ctx: Context) -> bool:
        if self.body is not None:
            ref = await ctx.params(self.body, share=True)
        elif self.query:
            ref = RunRef(run_uuid=Request(ctx.scope).query_params.get("run_uuid"))
        else:
            ref = await ctx.params(RunRef)
        run_id = getattr(ref, "run_id", None) or getattr(ref, "run_uuid", None)
        if not run_id:
            return True
        experiment_id = await ctx.access.run_experiment(ctx.reads, run_id)
        if experiment_id is None:
            return True  # 404 from the handler
        return await ctx.allowed(access.EXPERIMENT, experiment_id, self.action)


class OnRuns(Rule):
    """``action`` on the experiment of every run named in ``run_ids`` (or, with
    ``repeated``, in each ``run_id``)."""

    def __init__(self, action: str, *, repeated: bool = False) -> None:
        self.action = action
        self.repeated = repeated
        self.text = f"{action} on the runs' experiments"

    async def check(self, ctx: Context) -> bool:
        if self.repeated:
            run_ids = (await ctx.params(RepeatedRunIdRef, frozenset({"run_id"}))).run_id
        else:
            run_ids = (await ctx.params(RunIdsRef, frozenset({"run_ids"}))).run_ids
        for run_id in dict.fromkeys(run_ids):
            experiment_id = await ctx.access.run_experiment(ctx.reads, run_id)
            if experiment_id is not None and not await ctx.allowed(
                access.EXPERIMENT, experiment_id, self.action
            ):
                return False
        return True


class TraceRef(msgspec.Struct):
    trace_id: str | None = None
    request_id: str | None = None
    trace_ids: list[str] = []


class OnTrace(Rule):
    """``action`` on the experiment of the trace named in the path (``trace_id`` or
    ``request_id``), else in the request (``trace_id``, or each of ``trace_ids``)."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.text = f"{action} on the trace's experiment"

    async def check(self, ctx: Context) -> bool:
        named = ctx.path_params.get("trace_id") or ctx.path_params.get("request_id")
        if named:
            trace_ids = [str(named)]
        else:
            ref = await ctx.params(TraceRef, frozenset({"trace_ids"}))
            trace_ids = ref.trace_ids or [t for t in (ref.trace_id or ref.request_id,) if t]
        for trace_id in dict.fromkeys(trace_ids):
            experiment_id = await ctx.reads.trace_experiment(trace_id)
            if experiment_id is not None and not await ctx.allowed(
                access.EXPERIMENT, experiment_id, self.action
            ):
                return False
        return True


class OnTraceStart(Rule):
    """Starting a trace (MLflow 3): ``update`` on the experiment its location names."""

    action = "update"
    text = "update on the trace's experiment"

    async def check(self, ctx: Context) -> bool:
        from trackledger.api import trace_wire as w

        await ctx.raw_body()
        data = await w.body(Request(ctx.scope, ctx.receive()))  # as the handler reads it
        info = w.field(w.field(data, "trace"), "trace_info", {})
        location = w.field(w.field(info, "trace_location", {}), "mlflow_experiment", {})
        experiment_id = w.text(location, "experiment_id")
        if not experiment_id:
            return True  # the handler refuses it
        return await ctx.allowed(access.EXPERIMENT, experiment_id, self.action)


class OnHeaderExperiment(Rule):
    """``action`` on the experiment a header names (OTLP: ``x-mlflow-experiment-id``)."""

    def __init__(self, action: str, header: bytes) -> None:
        self.action = action
        self.header = header
        self.text = f"{action} on the experiment in {header.decode()}"

    async def check(self, ctx: Context) -> bool:
        for key, value in ctx.scope.get("headers", ()):
            if key == self.header:
                return await ctx.allowed(
                    access.EXPERIMENT, value.decode("latin-1").strip(), self.action
                )
        return True  # the handler refuses a request without it


class OnRegisteredModel(Rule):
    """``action`` on the registered model named by ``name`` (the live model of that name,
    else the last deleted one, as the handlers look it up) or ``registered_model_id``.
    Grants on a model are held by its internal id: a rename keeps them, and a new model
    that takes a freed name starts with none."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.text = f"{action} on the registered model"

    async def check(self, ctx: Context) -> bool:
        ref = await ctx.params(ModelNameRef)
        model_id = ref.registered_model_id
        if not model_id and ref.name and ctx.registry is not None:
            found = await ctx.registry.model_ids_named(ref.name)
            model_id = found[0][0] if found else None
        if not model_id:
            return True  # the handler answers: a missing name, or no such model
        return await ctx.allowed(access.REGISTERED_MODEL, model_id, self.action)


async def model_id_named(ctx: Context, name: str) -> str | None:
    """The live registered model called ``name``."""
    if ctx.registry is None:
        return None
    found = await ctx.registry.model_named(name)
    return found.registered_model_id if found else None


class OnLoggedModel(Rule):
    """``action`` on the experiment of the logged model in the path (or the body)."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.text = f"{action} on the logged model's experiment"

    async def check(self, ctx: Context) -> bool:
        model_id = ctx.path_params.get("model_id") or (await ctx.params(ModelRef)).model_id
        if not model_id:
            return True
        experiment_id = await ctx.access.model_experiment(ctx.reads, str(model_id))
        if experiment_id is None:
            return True
        return await ctx.allowed(access.EXPERIMENT, experiment_id, self.action)


class OnArtifactPath(Rule):
    """``action`` on the experiment whose artifacts the proxied path is under: proxied paths
    start with the experiment id (``<experiment>/<run>/artifacts/...``). A path outside
    every experiment's root is judged by what the user may do with every experiment."""

    def __init__(self, action: str, query: bool = False) -> None:
        self.action = action
        self.query = query
        self.text = f"{action} on the experiment the artifact path is under"

    async def check(self, ctx: Context) -> bool:
        if self.query:
            path = (await ctx.params(ArtifactRef)).path or ""
        else:
            path = str(ctx.path_params.get("path", ""))
        head = path.strip("/").split("/", 1)[0]
        return await ctx.allowed(access.EXPERIMENT, head if head.isdigit() else "*", self.action)


class SelfOrAdmin(Rule):
    """An admin, or the user named by ``username`` themself."""

    text = "admins, or the user themself"

    async def check(self, ctx: Context) -> bool:
        if ctx.principal.is_admin:
            return True
        return (await ctx.params(UserRef)).username == ctx.principal.username


class OnGrantTarget(Rule):
    """Managing one resource's grants: an admin, or a MANAGE holder of that resource; a
    grant on every resource of a type (``*``) is for admins."""

    text = "admins, or MANAGE on the resource"

    async def check(self, ctx: Context) -> bool:
        if ctx.principal.is_admin:
            return True
        ref = await ctx.params(GrantRef)
        if not ref.resource_type or not ref.resource_id:
            return True  # the handler refuses what is missing
        if ref.resource_id == "*" or ref.resource_type not in access.RESOURCE_TYPES:
            return False
        resource_id: str | None = ref.resource_id
        if ref.resource_type == access.REGISTERED_MODEL:
            # MLflow names registered models by name; grants hold the model's id.
            resource_id = await model_id_named(ctx, ref.resource_id)
        if resource_id is None:
            return True  # the handler answers 404
        return await ctx.allowed(ref.resource_type, resource_id, "manage")


class SelfOrManager(Rule):
    """Reading one user's permission on one resource: an admin, the user themself, or who
    manages the resource's permissions."""

    text = "admins, the user themself, or MANAGE on the resource"

    async def check(self, ctx: Context) -> bool:
        if await SelfOrAdmin().check(ctx):
            return True
        return await OnGrantTarget().check(ctx)


class OnLegacyGrant(Rule):
    """The per-experiment and per-registered-model permission endpoints of older clients:
    MANAGE on the experiment (``experiment_id``) or the model (``name``)."""

    def __init__(self, resource_type: str = access.EXPERIMENT) -> None:
        self.resource_type = resource_type
        self.text = f"admins, or MANAGE on the {resource_type.replace('_', ' ')}"

    async def check(self, ctx: Context) -> bool:
        if ctx.principal.is_admin:
            return True
        resource_id: str | None
        if self.resource_type == access.EXPERIMENT:
            resource_id = (await ctx.params(ExperimentRef)).experiment_id
        else:
            name = (await ctx.params(ModelNameRef)).name
            resource_id = await model_id_named(ctx, name) if name else None
        if not resource_id:
            return True
        return await ctx.allowed(self.resource_type, str(resource_id), "manage")
