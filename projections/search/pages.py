"""MLflow's page tokens: base64 of ``{"offset": N}``, opaque to clients."""

from __future__ import annotations

import base64
import binascii
import json

from trackledger.eventlog.errors import InvalidInput

__all__ = ["decode_page_token", "encode_page_token"]


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(f"Invalid page token, could not base64-decode: {token!r}") from None
    offset = data.get("offset") if isinstance(data, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidInput(f"Invalid page token, expected a non-negative offset: {token!r}")
    return offset
