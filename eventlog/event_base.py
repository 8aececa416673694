"""The base of every event and the tag pair they share.

Kept apart from ``events.py`` so that modules defining events of other aggregates (the model
registry's) can build on them while ``events.py`` gathers every event into one union.
"""

from __future__ import annotations

import msgspec

__all__ = ["Event", "Tag"]


class Tag(msgspec.Struct, frozen=True, array_like=True):
    key: str
    value: str


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every event. ``stream`` names the log stream the event belongs to."""

    @property
    def stream(self) -> str:
        raise NotImplementedError
