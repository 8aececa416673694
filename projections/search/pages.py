"""Page tokens: base64 of ``{"offset": N}``, as MLflow's, opaque to clients. A run
search's token may also say where its next page resumes (``Resume``, ``"resume"``)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import msgspec

from trackledger.eventlog.errors import InvalidInput

__all__ = [
    "MAX_OFFSET",
    "Resume",
    "decode_page_token",
    "decode_run_page_token",
    "encode_page_token",
]

#: The largest offset a token may carry: far beyond any real result, and small enough that
#: the offset plus a page (times the search window's factor) stays a 64-bit integer.
MAX_OFFSET = 2**53


class Resume(msgspec.Struct, frozen=True):
    """Where a run search's next page starts in its order (``search/resume.py``): the
    first order key's ``value`` at the last run of the page before, ``before`` the number
    of runs that sort ahead of the first run with that value, and ``search`` a digest of
    the search whose order this is (a token of another search resumes nothing)."""

    value: int | float
    before: int
    search: str
    #: The value is a start time among the runs without the first key, which an order of
    #: that key alone sorts last, newest first (``search/resume.py``).
    tail: bool = False


def encode_page_token(offset: int, resume: Resume | None = None) -> str:
    data: dict[str, Any] = {"offset": offset}
    if resume is not None:
        data["resume"] = [resume.value, resume.before, resume.search, resume.tail]
    return base64.b64encode(json.dumps(data).encode()).decode()


def decode_page_token(token: str | None) -> int:
    return decode_run_page_token(token)[0]


def decode_run_page_token(token: str | None) -> tuple[int, Resume | None]:
    """The offset of a token, and where a run search resumes, if it says."""
    if not token:
        return 0, None
    shown = repr(token) if len(token) <= 100 else f"{token[:100]!r}..."
    try:
        data = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(f"Invalid page token, could not base64-decode: {shown}") from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if not _whole(offset, MAX_OFFSET):
        raise InvalidInput(
            f"Invalid page token, expected an offset from 0 to {MAX_OFFSET}: {shown}"
        )
    assert isinstance(offset, int)
    if "resume" not in data:
        return offset, None
    resume = _resume(data["resume"], offset)
    if resume is None:
        raise InvalidInput(f"Invalid page token, its resume point is malformed: {shown}")
    return offset, resume


def _whole(value: object, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def _resume(data: object, offset: int) -> Resume | None:
    if not isinstance(data, list) or len(data) not in (3, 4):
        return None
    value, before, search, *tail = data
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or (isinstance(value, int) and abs(value) >= 2**63):
        return None
    if not _whole(before, offset) or not isinstance(search, str) or len(search) > 64:
        return None
    if tail and not isinstance(tail[0], bool):
        return None
    return Resume(value, before, search, bool(tail and tail[0]))
