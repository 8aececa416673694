"""What a backend store URI names."""

from __future__ import annotations

__all__ = ["sqlite_path"]


def sqlite_path(uri: str) -> str | None:
    """The file of a ``sqlite:///`` URI (``sqlite:////abs`` for absolute), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :]
    if not path:
        raise ValueError(f"no file in the SQLite URI {uri!r}")
    return path
