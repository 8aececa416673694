"""The starlette application: routes, and a lifespan that owns the backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from trackledger import MLFLOW_API_VERSION, __version__
from trackledger.api import (
    artifacts,
    assessments,
    browse,
    databricks,
    experiments,
    extensions,
    history_bulk,
    model_versions,
    models,
    multipart,
    openapi,
    otlp,
    registered_models,
    registry_history,
    render,
    runs,
    traces,
    traces_v2,
    ui,
    ui_artifacts,
)
from trackledger.api.auth import grants as auth_grants
from trackledger.api.auth import roles as auth_roles
from trackledger.api.auth import session as auth_session
from trackledger.api.auth import tokens as auth_tokens
from trackledger.api.auth import users as auth_users
from trackledger.api.auth.guard import AuthState, install
from trackledger.api.auth.hosts import HostCheck
from trackledger.api.body_limit import BodyLimit
from trackledger.api.calls import backend
from trackledger.api.errors import exception_handlers
from trackledger.api.slashes import MergeSlashes
from trackledger.services.artifact_store import ArtifactStore
from trackledger.services.backends import Backend
from trackledger.services.gc import schedule
from trackledger.services.statistics import keep_statistics

__all__ = ["create_app"]

#: Opens the backend when the app starts; the app closes it when it stops.
BackendFactory = Callable[[], Awaitable[Backend]]


async def health(request: Request) -> Response:
    try:
        await backend(request).reads.get_experiment("0")
    except Exception as exc:  # the store is not usable: say so, do not crash
        return PlainTextResponse(f"unavailable: {exc}", status_code=503)
    return PlainTextResponse("OK")


async def version(request: Request) -> Response:
    """The MLflow version whose API is served (the client gates features on it)."""
    return PlainTextResponse(MLFLOW_API_VERSION)


async def trackledger_version(request: Request) -> Response:
    """trackledger's own version, and the MLflow API version it serves."""
    return render.json_response({"version": __version__, "mlflow_api_version": MLFLOW_API_VERSION})


def _mlflow_routes() -> list[BaseRoute]:
    return [
        *experiments.routes,
        *runs.routes,
        *history_bulk.routes,
        *databricks.routes,
        *models.routes,
        *registered_models.routes,
        *model_versions.routes,
        *artifacts.tracking_routes,
        *ui_artifacts.upload_routes,
        *traces.trace_routes_v2,
        *traces_v2.legacy_routes,
        *traces_v2.trace_data_routes,
        *auth_users.routes,
        *auth_grants.legacy_routes,
    ]


def _mlflow_v3_routes() -> list[BaseRoute]:
    return [
        Route("/server-info", artifacts.server_info),
        *traces.trace_routes_v3,
        *assessments.assessment_routes,
        # MLflow 3's roles and per-user grants (basic-auth app).
        *auth_roles.routes,
        *auth_grants.routes,
    ]


def _trackledger_routes() -> list[BaseRoute]:
    return [
        Route("/version", trackledger_version),
        *extensions.routes,
        *browse.routes,
        *registry_history.routes,
        *traces.trackledger_trace_routes,
        *auth_tokens.routes,
        Route("/auth/status", auth_session.status, methods=["GET"]),
        Route("/auth/login", auth_session.login, methods=["POST"]),
        Route("/auth/logout", auth_session.logout, methods=["POST"]),
    ]


def create_app(
    open_backend: BackendFactory,
    *,
    artifact_store: ArtifactStore | None = None,
    retention_ms: int = 30 * 86_400_000,
    gc_interval_s: float = 0,
    statistics_interval_s: float = 0,
    max_body_bytes: int = 16 * 2**20,
    expose_prometheus: bool = False,
    open_connections: Callable[[], int] | None = None,
    auth: bool = False,
    auth_default_permission: str = "READ",
    allowed_hosts: list[str] | None = None,
    cors_allowed_origins: list[str] | None = None,
) -> Starlette:
    """The app; the lifespan opens the backend, purges every ``gc_interval_s`` seconds
    what was deleted longer ago than ``retention_ms``, and refreshes the database's
    statistics every ``statistics_interval_s`` seconds (0: never).

    With ``auth``, every route but a few public ones needs a credential and the permission
    its rule names (``api/auth/table.py``). Requests whose Host is not in ``allowed_hosts``
    get 403 (``trackledger server`` always passes its list, ``--allowed-hosts`` or the
    names it is bound to; None checks nothing, for apps in tests whatever host they use);
    ``cors_allowed_origins`` turns CORS on for those origins."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.backend = await open_backend()
        if artifact_store is not None:
            await artifact_store.start()
        tasks = []
        if gc_interval_s > 0:
            tasks.append(schedule(app.state.backend, retention_ms, gc_interval_s, artifact_store))
        if statistics_interval_s > 0:
            tasks.append(keep_statistics(app.state.backend, statistics_interval_s))
        running = [asyncio.create_task(task) for task in tasks]
        try:
            yield
        finally:
            for task in running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if artifact_store is not None:
                await artifact_store.close()
            await app.state.backend.close()

    mlflow = _mlflow_routes()
    proxy: list[BaseRoute] = [*artifacts.proxy_routes, *multipart.routes]
    routes: list[BaseRoute] = [
        Route("/health", health),
        Route("/version", version),
        Route("/openapi.json", openapi.endpoint),
        # The same handlers serve the UI's /ajax-api prefix, as in MLflow.
        Mount("/api/2.0/mlflow", routes=mlflow),
        Mount("/ajax-api/2.0/mlflow", routes=mlflow),
        Mount("/api/2.0/trackledger", routes=_trackledger_routes()),
        Mount("/api/2.0/mlflow-artifacts", routes=proxy),
        Mount("/ajax-api/2.0/mlflow-artifacts", routes=proxy),
        Mount("/api/3.0/mlflow", routes=_mlflow_v3_routes()),
        Mount("/ajax-api/3.0/mlflow", routes=_mlflow_v3_routes()),
        *otlp.otlp_routes,
        *ui_artifacts.routes,
        *ui.routes,
    ]
    middleware = [Middleware(BodyLimit, max_bytes=max_body_bytes)]
    if expose_prometheus:
        from trackledger.api.metrics import Metrics  # prometheus_client is optional

        metrics = Metrics(open_connections)
        routes.insert(0, Route("/metrics", metrics.endpoint))
        middleware.insert(0, Middleware(metrics.middleware))
    if cors_allowed_origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=cors_allowed_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
                allow_credentials=True,
            ),
        )
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(HostCheck, allowed=allowed_hosts))
    middleware.insert(0, Middleware(MergeSlashes))
    # Errors are answered here, once, by the class of what a handler raised (api/errors.py).
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
        middleware=middleware,
    )
    app.state.retention_ms = retention_ms
    app.state.artifacts = artifact_store
    app.state.auth = AuthState(auth_default_permission) if auth else None
    if auth:
        install(app)
    return app
