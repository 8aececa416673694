"""Purging what was deleted longer ago than the retention: the CLI, the admin endpoint and
the server's schedule all go through ``collect``."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import msgspec

from trackledger.eventlog.commands import Purge
from trackledger.eventlog.results import BulkResult
from trackledger.services.artifact_store import ArtifactStore
from trackledger.services.backends import Backend

__all__ = ["Collected", "collect", "parse_duration", "schedule"]

log = logging.getLogger("trackledger.services.gc")

# MLflow's `mlflow gc --older-than` syntax: 1d2h3m4s, each part optional, floats allowed.
_DURATION = re.compile(
    r"^((?P<d>[.\d]+?)d)?((?P<h>[.\d]+?)h)?((?P<m>[.\d]+?)m)?((?P<s>[.\d]+?)s)?$"
)
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


def parse_duration(text: str) -> int:
    """``30d``, ``1d12h``, ``90m``, ``3600s`` -> milliseconds."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"invalid duration {text!r}; use e.g. 30d, 12h, 1d2h3m4s")
    try:
        return int(sum(float(v) * _UNIT_MS[k] for k, v in match.groupdict().items() if v))
    except ValueError:
        raise ValueError(f"invalid duration {text!r}; use e.g. 30d, 12h, 1d2h3m4s") from None


class Collected(msgspec.Struct, frozen=True):
    runs: int
    experiments: int
    traces: int = 0


async def _remove_artifacts(store: ArtifactStore, uris: list[str]) -> None:
    for uri in uris:
        # mlflow-artifacts:/<experiment>/<run>/artifacts: the run's whole directory goes.
        if uri.startswith("mlflow-artifacts:"):
            run_dir = uri[len("mlflow-artifacts:") :].strip("/").rsplit("/", 1)[0]
            try:
                await store.delete(run_dir)
            except Exception:  # a file system or object store error: the purge stands
                log.exception("could not remove the artifacts at %s", uri)


async def collect(
    backend: Backend,
    older_than_ms: int,
    *,
    artifacts: ArtifactStore | None = None,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Collected:
    """Purge runs and experiments deleted at least ``older_than_ms`` ago, in transactions
    of at most 1000 runs, until none is left."""
    runs = experiments = traces = 0
    while True:
        result = await backend.store.execute(Purge(older_than_ms=older_than_ms), actor=actor)
        assert isinstance(result, BulkResult)
        runs += result.count
        experiments += result.experiments
        traces += result.traces
        if artifacts is not None:
            await _remove_artifacts(artifacts, result.artifact_uris)
        if progress is not None and result.count:
            progress(runs)
        if result.count == 0 and result.traces == 0:
            return Collected(runs, experiments, traces)


async def schedule(
    backend: Backend, retention_ms: int, interval_s: float, artifacts: ArtifactStore | None
) -> None:
    """Purge every ``interval_s`` seconds, for as long as the server runs."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            done = await collect(backend, retention_ms, artifacts=artifacts, actor="trackledger-gc")
        except Exception:  # keep serving; the next round tries again
            log.exception("scheduled purge failed")
            continue
        if done.runs or done.experiments:
            log.warning("purged %d runs and %d experiments", done.runs, done.experiments)
