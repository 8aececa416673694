"""Where artifact bytes live: an interface, and the local filesystem implementation.

Paths are relative to the store's root and use ``/``. Every path is checked before it is
used: no ``..`` segment, nothing absolute, no backslash, NUL or ``#``, after URL-decoding,
and the resolved location must stay inside the root (so a symlink cannot lead out).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import msgspec

__all__ = ["ArtifactStore", "Entry", "LocalArtifactStore", "UnsafePath", "Written"]


class UnsafePath(ValueError):
    """A path that could reach outside the artifact root."""


class Entry(msgspec.Struct, frozen=True):
    name: str
    is_dir: bool
    size: int | None


class Written(msgspec.Struct, frozen=True):
    size: int
    sha256: str


class ArtifactStore(Protocol):
    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> Written: ...

    def local_file(self, path: str) -> Path | None:
        """The file to serve for ``path``, or None if there is no such file."""
        ...

    def is_dir(self, path: str) -> bool: ...

    def list(self, path: str) -> list[Entry]: ...

    def delete(self, path: str) -> None: ...


def clean(path: str) -> str:
    """``path`` URL-decoded and checked; "" is the root."""
    decoded = urllib.parse.unquote(path)
    if any(bad in decoded for bad in ("\\", "\x00", "#")):
        raise UnsafePath(f"Invalid path: {path!r}")
    if decoded.startswith("/") or (len(decoded) > 1 and decoded[1] == ":"):
        raise UnsafePath(f"Invalid path: {path!r} is absolute")
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"Invalid path: {path!r} leaves the artifact root")
    return "/".join(parts)


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _resolve(self, path: str) -> Path:
        target = (self.root / clean(path)).resolve()
        if target != self.root and not target.is_relative_to(self.root):
            raise UnsafePath(f"Invalid path: {path!r} leaves the artifact root")
        return target

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> Written:
        """Stream ``chunks`` to a temporary file beside the target, then move it in place:
        a reader never sees half a file, and memory holds one chunk at a time."""
        target = self._resolve(path)
        if target == self.root:
            raise UnsafePath("Invalid path: an artifact needs a file name")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Written(size=size, sha256=digest.hexdigest())

    def local_file(self, path: str) -> Path | None:
        target = self._resolve(path)
        return target if target.is_file() else None

    def is_dir(self, path: str) -> bool:
        return self._resolve(path).is_dir()

    def list(self, path: str) -> list[Entry]:
        """The entries of the directory ``path``; empty for a file or a missing path (the
        MLflow client tells files from directories this way)."""
        target = self._resolve(path)
        if not target.is_dir():
            return []
        entries = []
        for child in sorted(target.iterdir()):
            if child.name.startswith(".upload-"):
                continue
            is_dir = child.is_dir()
            entries.append(Entry(child.name, is_dir, None if is_dir else child.stat().st_size))
        return entries

    def delete(self, path: str) -> None:
        target = self._resolve(path)
        if target == self.root:
            raise UnsafePath("Invalid path: refusing to delete the artifact root")
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
