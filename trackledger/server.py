"""Build the ASGI app from settings and serve it with uvicorn."""

from __future__ import annotations

import os

import uvicorn
from starlette.applications import Starlette

from trackledger.api.app import create_app
from trackledger.artifact_store import LocalArtifactStore
from trackledger.backends import Backend, open_backend
from trackledger.settings import SETTINGS, Settings, artifacts_default, sqlite_path

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
    return build_app(Settings.load())


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
