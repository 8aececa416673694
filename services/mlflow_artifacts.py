"""Where an MLflow source's artifacts are, how to read them, and how to copy or reference
them from trackledger.

An artifact URI of the source resolves to
- a directory on this machine (``file:`` URIs and absolute paths, and ``mlflow-artifacts:``
  URIs of a database source given the MLflow server's ``--artifacts-destination``), or
- an MLflow server's artifact proxy (``mlflow-artifacts:`` URIs of a server source, or of
  a database source given that server's URL; ``http(s)`` proxy URIs).
Anything else (``s3:``, ``gs:``, ...) cannot be copied here and is left in place.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from trackledger.services.artifact_store import ArtifactStore, clean
from trackledger.services.mlflow_source import ArtifactReader

__all__ = [
    "LocalFiles",
    "ProxiedFiles",
    "Resolver",
    "local_files",
    "stored_files",
    "trackledger_path",
]

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SCHEME = "mlflow-artifacts"
_CHUNK = 1 << 20


class LocalFiles:
    """A directory on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)

    async def files(self) -> list[tuple[str, int]]:
        return await asyncio.to_thread(_walk, self.root)

    async def read(self, path: str) -> AsyncIterator[bytes]:
        with open(self.root / path, "rb") as src:
            while chunk := await asyncio.to_thread(src.read, _CHUNK):
                yield chunk


def _walk(root: Path) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if not root.is_dir():
        return out
    for folder, _, names in os.walk(root):
        for name in names:
            if name.startswith(".upload-"):
                continue  # a trackledger upload in progress
            full = Path(folder, name)
            out.append((full.relative_to(root).as_posix(), full.stat().st_size))
    return sorted(out)


class ProxiedFiles:
    """A location behind an MLflow server's artifact proxy."""

    def __init__(self, http: httpx.AsyncClient, server: str, path: str) -> None:
        self.http = http
        self.server = server.rstrip("/")
        self.path = path.strip("/")
        self.where = f"{self.server}{PROXY}/{self.path}"

    async def files(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        pending = [""]
        while pending:
            relative = pending.pop()
            location = f"{self.path}/{relative}".strip("/")
            response = await self.http.get(f"{self.server}{PROXY}", params={"path": location})
            if response.status_code == 404:
                continue
            response.raise_for_status()
            for entry in response.json().get("files", []):
                # The proxy answers with base names.
                child = f"{relative}/{entry['path'].rsplit('/', 1)[-1]}".strip("/")
                if entry.get("is_dir"):
                    pending.append(child)
                else:
                    out.append((child, int(entry.get("file_size") or 0)))
        return sorted(out)

    async def read(self, path: str) -> AsyncIterator[bytes]:
        quoted = urllib.parse.quote(f"{self.path}/{path}")
        async with self.http.stream("GET", f"{self.server}{PROXY}/{quoted}") as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes(_CHUNK):
                yield chunk


def _proxy_path(uri: str) -> tuple[str, str] | None:
    """(server, path) of an ``http(s)`` URI of an MLflow artifact proxy."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or PROXY not in parts.path:
        return None
    before, _, after = parts.path.partition(PROXY)
    return f"{parts.scheme}://{parts.netloc}{before}", urllib.parse.unquote(after)


class Resolver:
    """Resolves the source's artifact URIs.

    ``server`` is the MLflow server the source is (or None for a database); ``proxied``
    is where that server keeps ``mlflow-artifacts:`` files: its URL, or its
    ``--artifacts-destination`` directory (for a database source).
    """

    def __init__(self, http: httpx.AsyncClient | None, server: str | None, proxied: str | None):
        self.http = http
        self.server = server.rstrip("/") if server else None
        self.proxied = proxied

    def _proxied_base(self) -> str | None:
        if self.proxied and self.proxied.startswith(("http://", "https://")):
            return self.proxied.rstrip("/")
        return self.server

    def reader(self, uri: str) -> ArtifactReader | None:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme == SCHEME:
            path = urllib.parse.unquote(parts.path).lstrip("/")
            if parts.netloc and self.http is not None:
                return ProxiedFiles(self.http, f"http://{parts.netloc}", path)
            base = self._proxied_base()
            if base is not None and self.http is not None:
                return ProxiedFiles(self.http, base, path)
            if self.proxied:
                return LocalFiles(Path(self.proxied) / path)
            return None
        proxy = _proxy_path(uri)
        if proxy is not None and self.http is not None:
            return ProxiedFiles(self.http, *proxy)
        return local_files(uri)

    def reference(self, uri: str) -> str:
        """``uri`` as a URI the mlflow client reads from wherever it runs (for artifacts
        left in place): ``mlflow-artifacts:`` would otherwise mean trackledger's own store."""
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != SCHEME:
            return uri
        path = parts.path.lstrip("/")
        if parts.netloc:
            return f"http://{parts.netloc}{PROXY}/{path}"
        base = self._proxied_base()
        if base is not None:
            return f"{base}{PROXY}/{path}"
        if self.proxied:
            return (Path(self.proxied).resolve() / urllib.parse.unquote(path)).as_uri()
        return uri


def local_files(uri: str) -> LocalFiles | None:
    """A ``file:`` URI or an absolute path, as a directory on this machine."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "file":
        return LocalFiles(Path(urllib.parse.unquote(parts.path)))
    if parts.scheme == "" and uri.startswith("/"):
        return LocalFiles(Path(uri))
    return None


def trackledger_path(uri: str) -> str | None:
    """The path in trackledger's artifact store of one of its ``mlflow-artifacts:`` URIs."""
    if not uri.startswith(f"{SCHEME}:"):
        return None
    return clean(uri[len(SCHEME) + 1 :].lstrip("/"))


async def stored_files(store: ArtifactStore, path: str) -> dict[str, int]:
    """Every file trackledger's store holds under ``path``: relative path -> size."""
    out: dict[str, int] = {}
    pending = [""]
    while pending:
        relative = pending.pop()
        for entry in await store.list(f"{path}/{relative}".rstrip("/")):
            child = f"{relative}/{entry.name}".lstrip("/")
            if entry.is_dir:
                pending.append(child)
            else:
                out[child] = entry.size or 0
    return out
