"""Server settings: each has a default, an environment variable and a help text.

The CLI builds its flags from ``SETTINGS``; a flag overrides the environment, which overrides
the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from trackledger.services.uris import sqlite_path

__all__ = ["SETTINGS", "Setting", "Settings", "artifacts_default"]


class Setting(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    default: Any
    help: str
    flag: str = ""

    @property
    def env(self) -> str:
        return f"TRACKLEDGER_{self.name.upper()}"

    @property
    def option(self) -> str:
        return self.flag or f"--{self.name.replace('_', '-')}"


SETTINGS = (
    Setting(
        name="backend_store_uri",
        default="sqlite:///trackledger.db",
        help="where the event log and its projections live: sqlite:///path.db or "
        "postgresql://user:pass@host:port/db",
    ),
    Setting(
        name="artifacts_destination",
        default="",
        help="directory for proxied artifacts (empty: 'trackledger-artifacts' beside the "
        "SQLite file, or in the working directory)",
    ),
    Setting(name="host", default="127.0.0.1", help="address to listen on"),
    Setting(name="port", default=5000, help="port to listen on"),
    Setting(
        name="workers",
        default=1,
        help="server processes (PostgreSQL only: SQLite has a single writer)",
    ),
    Setting(
        name="postgres_pool_size",
        default=10,
        help="PostgreSQL connections per server process, for writes and again for reads",
    ),
    Setting(
        name="retention_days",
        default=30.0,
        help="days a deleted run or experiment stays restorable before it is purged",
    ),
    Setting(
        name="gc_interval_seconds",
        default=3600.0,
        help="how often the server purges what is past retention (0: never; see 'trackledger gc')",
    ),
    Setting(
        name="sqlite_synchronous",
        default="FULL",
        help="SQLite synchronous mode: FULL makes every acknowledged write survive a crash "
        "or power loss; NORMAL survives a process crash only",
    ),
)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    backend_store_uri: str = "sqlite:///trackledger.db"
    artifacts_destination: str = ""
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    postgres_pool_size: int = 10
    retention_days: float = 30.0
    gc_interval_seconds: float = 3600.0
    sqlite_synchronous: str = "FULL"

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
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid setting: {exc}") from None


def artifacts_default(settings: Settings) -> Path:
    if settings.artifacts_destination:
        return Path(settings.artifacts_destination)
    path = sqlite_path(settings.backend_store_uri)
    base = Path(path).parent if path else Path.cwd()
    return base / "trackledger-artifacts"
