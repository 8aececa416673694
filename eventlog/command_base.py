"""The base of every command and the key/value pair commands take in.

Kept apart from ``commands.py`` so that modules defining commands of other aggregates (the
model registry's) can build on them while ``commands.py`` gathers every command into one union.
"""

from __future__ import annotations

import msgspec

__all__ = ["Command", "TagIn"]


class TagIn(msgspec.Struct, frozen=True):
    key: str | None = None
    value: str | None = None


class Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="command"):
    pass
