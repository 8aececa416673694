"""Build the ASGI app from settings and serve it with uvicorn."""

from __future__ import annotations

import gc
import os

import uvicorn
from starlette.applications import Starlette

from trackledger.api.app import create_app
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.backends import Backend, open_backend
from trackledger.services.uris import sqlite_path
from trackledger.settings import SETTINGS, Settings, artifacts_default

__all__ = ["app_from_env", "build_app", "serve"]

#: How often the server refreshes planner statistics that went stale (PostgreSQL).
STATISTICS_INTERVAL_S = 30.0


def build_app(settings: Settings) -> Starlette:
    async def open_configured() -> Backend:
        return await open_backend(
            settings.backend_store_uri,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.postgres_pool_size,
            retention_days=settings.retention_days,
        )

    return create_app(
        open_configured,
        artifact_store=LocalArtifactStore(artifacts_default(settings)),
        retention_ms=int(settings.retention_days * 86_400_000),
        gc_interval_s=settings.gc_interval_seconds,
        statistics_interval_s=STATISTICS_INTERVAL_S,
    )


def app_from_env() -> Starlette:
    """The app for uvicorn's worker processes, configured by TRACKLEDGER_* variables."""
    app = build_app(Settings.load())
    _tune_collector()
    return app


def _tune_collector() -> None:
    """A log-batch request allocates a few hundred small objects, so with Python's default
    threshold (700) a young collection ran every other request, and the older generations
    rescanned every module and class loaded at startup: 10% of the event loop's time under
    load. Startup objects are frozen out of the collector's view and young collections run
    every 20,000 allocations (still a few per second under load)."""
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def check(settings: Settings) -> None:
    if settings.workers < 1:
        raise ValueError("--workers must be at least 1")
    if settings.workers > 1 and sqlite_path(settings.backend_store_uri) is not None:
        raise ValueError(
            "--workers > 1 needs PostgreSQL: SQLite allows one writer, and trackledger "
            "keeps that one writer (with group commit) inside a single server process"
        )


def serve(settings: Settings) -> None:
    check(settings)
    # Worker processes read their settings back from the environment.
    for setting in SETTINGS:
        os.environ[setting.env] = str(getattr(settings, setting.name))
    uvicorn.run(
        "trackledger.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
    )
