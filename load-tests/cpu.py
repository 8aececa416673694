"""Where a round's CPU time went: the servers under test, the database's backends that serve
their database, and the load generator (this process). Read from /proc (Linux)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Snapshot", "cpu_seconds", "process_tree", "shares"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending += [int(child) for child in task.read_text().split()]
            except FileNotFoundError:
                pass
    return found


def _backends(database: str) -> list[int]:
    """PostgreSQL backends connected to ``database`` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


@dataclass
class Snapshot:
    at: float
    servers: dict[int, float]
    database: dict[int, float]
    generator: float

    @classmethod
    def take(cls, server_pids: list[int], database: str | None) -> Snapshot:
        servers = {p: cpu_seconds(p) for root in server_pids for p in process_tree(root)}
        backends = _backends(database) if database else []
        return cls(
            at=time.perf_counter(),
            servers=servers,
            database={p: cpu_seconds(p) for p in backends},
            generator=time.process_time(),
        )


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def shares(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Each party's CPU as a share of the whole machine over the interval (all cores)."""
    wall = (after.at - before.at) * (os.cpu_count() or 1)
    return {
        "servers": _delta(before.servers, after.servers) / wall,
        "database": _delta(before.database, after.database) / wall,
        "generator": (after.generator - before.generator) / wall,
    }
