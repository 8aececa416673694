"""The one error a filter or order_by can raise: it names the position and the token."""

from __future__ import annotations

from trackledger.eventlog.errors import InvalidInput

__all__ = ["FilterError"]


class FilterError(InvalidInput):
    def __init__(self, reason: str, position: int, token: str, *, what: str = "filter") -> None:
        near = f"near '{token}'" if token else "at the end"
        super().__init__(f"Invalid {what} at position {position} {near}: {reason}")
        self.position = position
        self.token = token
