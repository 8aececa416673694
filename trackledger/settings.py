"""Server settings: each is declared once, as a field of ``Settings`` with its default, and
described once in ``HELP``; the CLI builds its flags from ``SETTINGS``.

A flag overrides the ``TRACKLEDGER_<NAME>`` environment variable, which overrides the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from trackledger.services.uris import sqlite_path

__all__ = ["SETTINGS", "Setting", "Settings", "artifact_root", "artifacts_default"]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    backend_store_uri: str = "sqlite:///trackledger.db"
    artifacts_destination: str = ""
    default_artifact_root: str = ""
    serve_artifacts: bool = True
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    # Two at least: an upgrade's rebuild holds the store's lock on one while it works on others.
    postgres_pool_size: Annotated[int, msgspec.Meta(ge=2)] = 10
    retention_days: float = 30.0
    gc_interval_seconds: float = 3600.0
    sqlite_synchronous: str = "FULL"
    log_level: str = "info"
    access_log: bool = False
    max_connections: int = 0
    head_timeout_seconds: float = 10.0
    max_body_mb: float = 16.0
    expose_prometheus: bool = False
    auth: bool = False
    auth_default_permission: str = "READ"
    allowed_hosts: str = ""
    cors_allowed_origins: str = ""

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then ``TRACKLEDGER_*`` variables, then non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if setting.env in env:
                values[setting.name] = env[setting.env]
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        try:
            settings = msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid setting: {exc}") from None
        if settings.auth_default_permission not in DEFAULT_PERMISSIONS:
            raise ValueError(
                f"invalid setting: auth_default_permission {settings.auth_default_permission!r} "
                f"is not one of {', '.join(DEFAULT_PERMISSIONS)}"
            )
        if settings.log_level.lower() not in LOG_LEVELS:
            raise ValueError(
                f"invalid setting: log_level {settings.log_level!r} is not one of "
                f"{', '.join(LOG_LEVELS)}"
            )
        return settings


LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
DEFAULT_PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")

HELP = {
    "backend_store_uri": "where the event log and its projections live: sqlite:///path.db or "
    "postgresql://user:pass@host:port/db",
    "artifacts_destination": "where proxied artifacts live: a directory or s3://bucket/prefix "
    "(empty: 'trackledger-artifacts' beside the SQLite file, or in the working directory)",
    "default_artifact_root": "artifact root of new experiments (empty: mlflow-artifacts:/, "
    "i.e. through this server); with --no-serve-artifacts clients write there directly, "
    "e.g. s3://bucket/path",
    "serve_artifacts": "proxy artifact uploads and downloads (--no-serve-artifacts: clients "
    "use --default-artifact-root themselves)",
    "host": "address to listen on",
    "port": "port to listen on",
    "workers": "server processes (PostgreSQL only: SQLite has a single writer)",
    "postgres_pool_size": "PostgreSQL connections per server process, for writes and again "
    "for reads",
    "retention_days": "days a deleted run or experiment stays restorable before it is purged",
    "gc_interval_seconds": "how often the server purges what is past retention (0: never; see "
    "'trackledger gc')",
    "sqlite_synchronous": "SQLite synchronous mode: FULL makes every acknowledged write survive "
    "a crash or power loss; NORMAL survives a process crash only",
    "log_level": f"server log level: {', '.join(LOG_LEVELS)}",
    "access_log": "log every request (method, path, status)",
    "max_connections": "open connections per server process; beyond it the longest-idle one "
    "is closed (0: half the open-file limit, which is raised to its hard limit)",
    "max_body_mb": "largest API request body in MB (413 beyond it); artifact uploads stream "
    "and have no limit",
    "expose_prometheus": "serve Prometheus metrics at /metrics (needs the prometheus extra: "
    "pip install 'trackledger[prometheus]')",
    "head_timeout_seconds": "a connection that has not sent a whole request head this long "
    "after arriving (or after its last answer) is closed",
    "auth": "require a user name and password (or an access token) on every request, and "
    "enforce per-experiment permissions; the first admin comes from TRACKLEDGER_ADMIN_USERNAME "
    "and TRACKLEDGER_ADMIN_PASSWORD",
    "auth_default_permission": "with --auth, what a user may do with an experiment or "
    f"registered model nobody granted them anything on: {', '.join(DEFAULT_PERMISSIONS)}",
    "allowed_hosts": "Host header names the server answers, comma-separated ('*': any; "
    "empty: the address it listens on, its names when that is 0.0.0.0 or ::, and localhost); "
    "other hosts get 403 (DNS rebinding)",
    "cors_allowed_origins": "origins whose web pages may call the API from a browser, "
    "comma-separated (empty: none, CORS off)",
}


class Setting(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"TRACKLEDGER_{self.name.upper()}"

    @property
    def option(self) -> str:
        return f"--{self.name.replace('_', '-')}"


SETTINGS = tuple(
    Setting(name=field.name, default=field.default, help=HELP[field.name])
    for field in msgspec.structs.fields(Settings)
)


def artifacts_default(settings: Settings) -> str:
    """Where proxied artifacts live: the destination given, or a directory beside the
    SQLite file (or in the working directory)."""
    if settings.artifacts_destination:
        return settings.artifacts_destination
    path = sqlite_path(settings.backend_store_uri)
    base = Path(path).parent if path else Path.cwd()
    return str(base / "trackledger-artifacts")


def artifact_root(settings: Settings) -> str:
    """What new experiments' artifact locations start with."""
    if settings.default_artifact_root:
        return settings.default_artifact_root.rstrip("/")
    if not settings.serve_artifacts:
        raise ValueError("--no-serve-artifacts needs --default-artifact-root (e.g. s3://bucket)")
    return "mlflow-artifacts:/"
