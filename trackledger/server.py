"""Build the ASGI app from settings and serve it with uvicorn."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import logging.config
import os
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from starlette.applications import Starlette

from trackledger import __version__, connections
from trackledger.api.app import create_app
from trackledger.api.auth.hosts import default_allowed_hosts, parse_list
from trackledger.first_admin import ensure_admin
from trackledger.services.artifact_location import artifact_store_for
from trackledger.services.backends import Backend, open_backend
from trackledger.services.migrations import LATEST
from trackledger.services.uris import sqlite_path
from trackledger.settings import SETTINGS, Settings, artifact_root, artifacts_default

__all__ = ["app_from_env", "build_app", "serve"]

#: How often the server refreshes planner statistics that went stale (PostgreSQL).
STATISTICS_INTERVAL_S = 30.0

#: How long in-flight requests get to finish after SIGTERM before they are cut off.
GRACEFUL_SHUTDOWN_S = 7

log = logging.getLogger("trackledger.server")


def redact(uri: str) -> str:
    """``uri`` without the password it may carry."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def build_app(settings: Settings) -> Starlette:
    artifacts = artifacts_default(settings) if settings.serve_artifacts else None
    root = artifact_root(settings)

    async def open_configured() -> Backend:
        backend = await open_backend(
            settings.backend_store_uri,
            artifact_root=root,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.postgres_pool_size,
            retention_days=settings.retention_days,
        )
        log.info(
            "trackledger %s serving http://%s:%d (pid %d): backend %s (schema version %d), "
            "artifacts %s",
            __version__,
            settings.host,
            settings.port,
            os.getpid(),
            redact(settings.backend_store_uri),
            LATEST,
            f"served from {artifacts}" if artifacts else f"not served (clients use {root})",
        )
        return backend

    return create_app(
        open_configured,
        artifact_store=artifact_store_for(artifacts) if artifacts else None,
        retention_ms=int(settings.retention_days * 86_400_000),
        gc_interval_s=settings.gc_interval_seconds,
        statistics_interval_s=STATISTICS_INTERVAL_S,
        max_body_bytes=int(settings.max_body_mb * 2**20),
        expose_prometheus=settings.expose_prometheus,
        open_connections=connections.open_connections,
        auth=settings.auth,
        auth_default_permission=settings.auth_default_permission,
        allowed_hosts=parse_list(settings.allowed_hosts) or default_allowed_hosts(settings.host),
        cors_allowed_origins=parse_list(settings.cors_allowed_origins),
    )


def app_from_env() -> Starlette:
    """The app for uvicorn's worker processes, configured by TRACKLEDGER_* variables."""
    settings = Settings.load()
    cap = connections.configure(settings.max_connections, settings.head_timeout_seconds)
    log.debug("at most %d connections in process %d", cap, os.getpid())
    app = build_app(settings)
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
    if settings.expose_prometheus and importlib.util.find_spec("prometheus_client") is None:
        raise ValueError(
            "--expose-prometheus needs prometheus_client: pip install 'trackledger[prometheus]'"
        )
    artifact_root(settings)  # --no-serve-artifacts needs a root
    uses_s3 = settings.serve_artifacts and artifacts_default(settings).startswith("s3://")
    if uses_s3 and importlib.util.find_spec("aiobotocore") is None:
        raise ValueError("artifacts in s3:// need aiobotocore: pip install 'trackledger[s3]'")
    if settings.workers > 1 and sqlite_path(settings.backend_store_uri) is not None:
        raise ValueError(
            "--workers > 1 needs PostgreSQL: SQLite allows one writer, and trackledger "
            "keeps that one writer (with group commit) inside a single server process"
        )


async def upgrade(settings: Settings) -> None:
    """Bring the store's schema up to date before any server process opens it."""
    started = time.monotonic()

    def rebuilding(done: int, position: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        log.info("upgrade: rebuilding projections, %d events replayed, %.0f events/s", done, rate)

    backend = await open_backend(settings.backend_store_uri, progress=rebuilding)
    try:
        if settings.auth:
            created = await ensure_admin(backend, os.environ)
            if created is not None:
                log.info("authentication on: created the first admin, %r", created)
    finally:
        await backend.close()
    for migration in backend.upgraded:
        log.info("applied schema migration %d: %s", migration.version, migration.summary)


def serve(settings: Settings) -> None:
    check(settings)
    logging.config.dictConfig(logging_config(settings.log_level))
    connections.raise_file_limit()  # worker processes inherit it
    asyncio.run(upgrade(settings))
    # Worker processes read their settings back from the environment.
    for setting in SETTINGS:
        os.environ[setting.env] = str(getattr(settings, setting.name))
    uvicorn.run(
        "trackledger.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="trackledger.connections:GuardedProtocol",
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings.log_level),
        access_log=settings.access_log,
        # SIGTERM: stop accepting, let in-flight requests answer, then the lifespan drains
        # the writer queue and closes the store; all within 10 s.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def logging_config(level: str) -> dict[str, Any]:
    """Logging for every server process: trackledger's loggers and uvicorn's (its access log
    included, when turned on) write one line per record to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": handler},
        "loggers": {"trackledger": logger, "uvicorn": logger, "uvicorn.access": logger},
    }
