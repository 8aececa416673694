"""What a decision knows besides the command: the time and the server's settings."""

from __future__ import annotations

import msgspec

__all__ = ["DecideContext"]


class DecideContext(msgspec.Struct, frozen=True, kw_only=True):
    #: Milliseconds since the epoch, read once per command from the store's clock.
    now: int
    #: Root under which new experiments get their artifact location.
    artifact_root: str = "mlflow-artifacts:/"
    #: How long a deleted run or experiment can be restored before it is purged.
    retention_ms: int = 30 * 24 * 3600 * 1000
