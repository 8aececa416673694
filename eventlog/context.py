"""What a decision knows besides the command: the time and the server's settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

__all__ = ["ContextSource", "DecideContext"]


class DecideContext(msgspec.Struct, frozen=True, kw_only=True):
    #: Milliseconds since the epoch, read once per command from the store's clock.
    now: int
    #: Root under which new experiments get their artifact location.
    artifact_root: str = "mlflow-artifacts:/"
    #: How long a deleted run or experiment can be restored before it is purged.
    retention_ms: int = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class ContextSource:
    """What a store needs to decide: the clock and the server's settings; calling it reads
    the clock once and gives the context of one command."""

    clock: Callable[[], int]
    artifact_root: str = "mlflow-artifacts:/"
    retention_ms: int = 30 * 24 * 3600 * 1000

    def __call__(self) -> DecideContext:
        return DecideContext(
            now=self.clock(), artifact_root=self.artifact_root, retention_ms=self.retention_ms
        )
