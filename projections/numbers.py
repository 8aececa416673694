"""Strict parsing of param and tag values as numbers, for numeric filters."""

from __future__ import annotations

import re

__all__ = ["as_number"]

# A plain decimal literal: no "nan", "inf", underscores or hex, which float() would accept.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def as_number(value: str | None) -> float | None:
    """``value`` as a float when the whole (stripped) text is one decimal number."""
    if value is None:
        return None
    text = value.strip()
    if len(text) > 64 or not _NUMBER.fullmatch(text):
        return None
    number = float(text)
    return number if number not in (float("inf"), float("-inf")) else None
