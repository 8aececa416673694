"""What a store's write path counts as it goes, for monitoring (``/metrics``).

Plain numbers updated by the writer (SQLite's thread, PostgreSQL's group committer): the
cost is a few additions per group, paid whether or not anyone reads them.
"""

from __future__ import annotations

__all__ = ["WriteStats"]


class WriteStats:
    __slots__ = (
        "commands",
        "commit_seconds",
        "errors",
        "groups",
        "position",
        "sync_seconds",
        "syncs",
    )

    def __init__(self) -> None:
        self.groups = 0  # transactions committed
        self.commands = 0  # commands in them
        self.commit_seconds = 0.0  # time spent deciding, writing and committing groups
        self.syncs = 0  # fdatasync calls (SQLite, FULL)
        self.sync_seconds = 0.0
        self.errors = 0  # groups or commands that failed for the store's sake (unavailable)
        self.position = 0  # the highest log position appended by this process

    def committed(self, commands: int, seconds: float) -> None:
        self.groups += 1
        self.commands += commands
        self.commit_seconds += seconds

    def appended(self, position: int) -> None:
        if position > self.position:
            self.position = position
