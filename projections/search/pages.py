"""MLflow's page tokens: base64 of ``{"offset": N}``, opaque to clients."""

from __future__ import annotations

import base64
import binascii
import json

from trackledger.eventlog.errors import InvalidInput

__all__ = ["MAX_OFFSET", "decode_page_token", "encode_page_token"]

#: The largest offset a token may carry: far beyond any real result, and small enough that
#: the offset plus a page (times the search window's factor) stays a 64-bit integer.
MAX_OFFSET = 2**53


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    shown = repr(token) if len(token) <= 100 else f"{token[:100]!r}..."
    try:
        data = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(f"Invalid page token, could not base64-decode: {shown}") from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(
            f"Invalid page token, expected an offset from 0 to {MAX_OFFSET}: {shown}"
        )
    return offset
