"""Where artifact bytes live: an interface, and the local filesystem implementation.

Paths are relative to the store's root and use ``/``. Every path is checked before it is
used: no ``..`` segment, nothing absolute, no backslash, NUL or ``#``, however many times it
was URL-encoded; no name longer than a filesystem allows; and the resolved location must
stay inside the root (so a symlink cannot lead out). An upload that would collide with a
directory, or go below a file, is refused before anything is written.
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

__all__ = [
    "ArtifactStore",
    "Download",
    "Entry",
    "LocalArtifactStore",
    "PathConflict",
    "UnsafePath",
    "Written",
]

#: The longest name of one file or directory (bytes of UTF-8), as on common filesystems.
MAX_NAME_BYTES = 255
#: The longest path below the root (bytes of UTF-8); the OS allows 4096 with the root.
MAX_PATH_BYTES = 3072
#: URL-decoding rounds before a path is deemed unreadable (as MLflow's ``_decode``).
_DECODE_ROUNDS = 10


class UnsafePath(ValueError):
    """A path that could reach outside the artifact root, or that no filesystem takes."""


class PathConflict(ValueError):
    """A write onto an existing directory, or below an existing file."""


class Entry(msgspec.Struct, frozen=True):
    name: str
    is_dir: bool
    size: int | None


class Written(msgspec.Struct, frozen=True):
    size: int
    sha256: str


class Download:
    """A stored file to send: a local file (served by the OS), or chunks to stream."""

    __slots__ = ("chunks", "name", "path", "size")

    def __init__(
        self,
        name: str,
        size: int,
        *,
        path: Path | None = None,
        chunks: AsyncIterator[bytes] | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.path = path
        self.chunks = chunks


class ArtifactStore(Protocol):
    async def start(self) -> None:
        """Connect, when the store needs a connection (the app's lifespan calls it)."""
        ...

    async def close(self) -> None: ...

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> Written: ...

    async def read(self, path: str) -> Download | None:
        """The file at ``path``, or None if there is no such file."""
        ...

    async def is_dir(self, path: str) -> bool: ...

    async def list(self, path: str) -> list[Entry]:
        """The entries of the directory ``path``; empty for a file or a missing path (the
        MLflow client tells files from directories this way)."""
        ...

    async def delete(self, path: str) -> None: ...


def _check(path: str, decoded: str) -> list[str]:
    if any(bad in decoded for bad in ("\\", "\x00", "#")):
        raise UnsafePath(f"Invalid path: {path!r}")
    if decoded.startswith("/") or (len(decoded) > 1 and decoded[1] == ":"):
        raise UnsafePath(f"Invalid path: {path!r} is absolute")
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"Invalid path: {path!r} leaves the artifact root")
    return parts


def clean(path: str) -> str:
    """``path`` URL-decoded once and checked; "" is the root.

    What a path would become if decoded again and again (as MLflow's server does before
    its own check) is checked as well: ``%25252e%25252e`` is refused like ``..``.
    """
    decoded = urllib.parse.unquote(path)
    parts = _check(path, decoded)
    deeper = decoded
    for _ in range(_DECODE_ROUNDS):
        again = urllib.parse.unquote(deeper)
        if again == deeper:
            break
        _check(path, again)
        deeper = again
    else:
        raise UnsafePath(f"Invalid path: {path!r} is URL-encoded too many times")
    for part in parts:
        if len(part.encode()) > MAX_NAME_BYTES:
            raise UnsafePath(
                f"Invalid path: the name {part[:40]!r}... is longer than {MAX_NAME_BYTES} bytes"
            )
    cleaned = "/".join(parts)
    if len(cleaned.encode()) > MAX_PATH_BYTES:
        raise UnsafePath(f"Invalid path: longer than {MAX_PATH_BYTES} bytes")
    return cleaned


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

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
        self._check_room(path, target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file appeared meanwhile
            raise PathConflict(f"Invalid path: {path!r} lies below an existing file") from None
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
        except IsADirectoryError:  # a directory appeared meanwhile
            Path(temporary).unlink(missing_ok=True)
            raise PathConflict(f"Invalid path: {path!r} is an existing directory") from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Written(size=size, sha256=digest.hexdigest())

    def _check_room(self, path: str, target: Path) -> None:
        """Refuse, before writing anything, a file onto a directory or below a file."""
        if target.is_dir():
            raise PathConflict(f"Invalid path: {path!r} is an existing directory")
        for parent in reversed(target.relative_to(self.root).parents):
            above = self.root / parent
            if above.exists() and not above.is_dir():
                raise PathConflict(
                    f"Invalid path: {path!r} lies below the existing file {parent.as_posix()!r}"
                )

    async def read(self, path: str) -> Download | None:
        target = self._resolve(path)
        if not target.is_file():
            return None
        return Download(target.name, target.stat().st_size, path=target)

    async def is_dir(self, path: str) -> bool:
        return self._resolve(path).is_dir()

    async def list(self, path: str) -> list[Entry]:
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

    async def delete(self, path: str) -> None:
        target = self._resolve(path)
        if target == self.root:
            raise UnsafePath("Invalid path: refusing to delete the artifact root")
        if target.is_dir():
            shutil.rmtree(target)
        elif target.is_file():
            target.unlink(missing_ok=True)
        # Else nothing is there (a path below a file included): nothing to delete.
