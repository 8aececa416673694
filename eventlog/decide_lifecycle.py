"""Decisions for deleting, restoring and purging runs.

- ``runs/delete`` keeps MLflow's meaning (only that run) unless the request asks for the
  descendants too; each deleted run records the request that covered it (``cascade``), so
  restoring a run restores exactly the runs deleted with it.
- A deleted run can be restored for ``retention_ms`` (30 days by default); after that it
  waits for the purge, and once purged it is gone for good.
- Bulk delete and restore by time follow Databricks' ``delete-runs``/``restore-runs``:
  at most ``max_runs`` (default and maximum 10000), one transaction per call.
- A purge never removes a run that still has a descendant (nothing may point at a missing
  parent), nor an experiment that still has runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from trackledger.eventlog import validation as v
from trackledger.eventlog.commands import (
    DeleteRun,
    DeleteRunsByTime,
    Purge,
    RestoreRun,
    RestoreRunsByTime,
)
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide_experiments import existing as existing_experiment
from trackledger.eventlog.decide_runs import existing
from trackledger.eventlog.decide_traces import purge_experiment_traces, purge_expired_traces
from trackledger.eventlog.errors import InvalidInput, NotFound
from trackledger.eventlog.events import (
    Event,
    ExperimentPurged,
    RunDeleted,
    RunPurged,
    RunRestored,
    experiment_stream,
    run_stream,
)
from trackledger.eventlog.lookups import (
    Ask,
    CountStreamEvents,
    Decision,
    GetChildren,
    GetDescendants,
    GetExperimentRuns,
    GetExpired,
    GetPurgedRun,
    GetRun,
    GetRunsDeletedSince,
    GetRunsDeletedWith,
    GetRunsStartedBefore,
    Outcome,
    RunState,
)
from trackledger.eventlog.results import BulkResult, Nothing
from trackledger.eventlog.trace_events import TracePurged

MAX_BULK_RUNS = 10_000


def _date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def delete(cmd: DeleteRun, ctx: DecideContext) -> Decision:
    yield from existing(cmd.run_id, "update")
    events: list[Event] = [RunDeleted(run_id=cmd.run_id, time=ctx.now)]
    if cmd.include_descendants:
        for run_id in (yield GetDescendants(cmd.run_id)):
            run: RunState | None = yield GetRun(run_id, "update")
            if run is not None and run.lifecycle_stage == "active":
                events.append(RunDeleted(run_id=run_id, time=ctx.now, cascade=cmd.run_id))
    return Outcome(events=events, result=Nothing())


def _restorable(run_id: str, ctx: DecideContext) -> Ask[RunState]:
    run: RunState | None = yield GetRun(run_id, "update")
    if run is None:
        purged: int | None = yield GetPurgedRun(run_id)
        if purged is not None:
            raise NotFound(
                f"Run {run_id} was purged on {_date(purged)}; its data is gone and it "
                "cannot be restored."
            )
        raise NotFound(f"Run with id={run_id} not found")
    if run.lifecycle_stage == "deleted" and run.deleted_time is not None:
        if run.deleted_time < ctx.now - ctx.retention_ms:
            raise InvalidInput(
                f"Run {run_id} was deleted on {_date(run.deleted_time)}, more than "
                f"{ctx.retention_ms // 86_400_000} days ago: it is past the restore window "
                "and will be purged."
            )
    return run


def restore(cmd: RestoreRun, ctx: DecideContext) -> Decision:
    run = yield from _restorable(cmd.run_id, ctx)
    if run.lifecycle_stage == "active":
        return Outcome(events=[], result=Nothing())
    events: list[Event] = [RunRestored(run_id=cmd.run_id, time=ctx.now)]
    # The descendants deleted by the same request come back with it.
    for run_id in (yield GetRunsDeletedWith(cmd.run_id)):
        events.append(RunRestored(run_id=run_id, time=ctx.now))
    return Outcome(events=events, result=Nothing())


def _max_runs(value: int | None) -> int:
    if value is None:
        return MAX_BULK_RUNS
    if value <= 0 or value > MAX_BULK_RUNS:
        raise InvalidInput(
            f"Invalid value {value} for parameter 'max_runs' supplied. It must be between "
            f"1 and {MAX_BULK_RUNS}."
        )
    return value


def delete_by_time(cmd: DeleteRunsByTime, ctx: DecideContext) -> Decision:
    if cmd.max_timestamp_millis is None:
        raise v.missing("max_timestamp_millis")
    limit = _max_runs(cmd.max_runs)
    yield from existing_experiment(cmd.experiment_id, "update")
    run_ids: list[str] = yield GetRunsStartedBefore(
        cmd.experiment_id, cmd.max_timestamp_millis, limit
    )
    events: list[Event] = [RunDeleted(run_id=r, time=ctx.now, cascade="bulk") for r in run_ids]
    return Outcome(events=events, result=BulkResult(count=len(events)))


def restore_by_time(cmd: RestoreRunsByTime, ctx: DecideContext) -> Decision:
    if cmd.min_timestamp_millis is None:
        raise v.missing("min_timestamp_millis")
    limit = _max_runs(cmd.max_runs)
    yield from existing_experiment(cmd.experiment_id, "update")
    # Runs past the restore window stay deleted, whatever the timestamp asks for.
    since = max(cmd.min_timestamp_millis, ctx.now - ctx.retention_ms)
    run_ids: list[str] = yield GetRunsDeletedSince(cmd.experiment_id, since, limit)
    events: list[Event] = [RunRestored(run_id=r, time=ctx.now) for r in run_ids]
    return Outcome(events=events, result=BulkResult(count=len(events)))


def purge(cmd: Purge, ctx: DecideContext) -> Decision:
    cutoff = ctx.now - cmd.older_than_ms
    expired = set((yield GetExpired(cutoff, cmd.max_runs)))
    # Keep every run that still has a descendant outside the purge: drop candidates with
    # a child that stays, until nothing changes.
    changed = True
    while changed and expired:
        children: dict[str, list[str]] = yield GetChildren(sorted(expired))
        keep = {p for p, kids in children.items() if any(k not in expired for k in kids)}
        changed = bool(keep)
        expired -= keep
    events: list[Event] = []
    artifact_uris = []
    for run_id in sorted(expired):
        count: int = yield CountStreamEvents(run_stream(run_id))
        events.append(RunPurged(run_id=run_id, time=ctx.now, events_removed=count))
        run: RunState | None = yield GetRun(run_id)
        if run is not None:
            artifact_uris.append(run.artifact_uri)
    # Traces deleted long enough ago go too; an experiment's traces go with it.
    events.extend((yield from purge_expired_traces(cutoff, cmd.max_runs, ctx.now)))
    for experiment_id in (yield GetExpired(cutoff, cmd.max_runs, experiments=True)):
        remaining = [
            *(yield GetExperimentRuns(experiment_id, "active")),
            *(yield GetExperimentRuns(experiment_id, "deleted")),
        ]
        if all(r in expired for r in remaining):
            purged = {e.trace_id for e in events if isinstance(e, TracePurged)}
            for event in (yield from purge_experiment_traces(experiment_id, ctx.now)):
                if isinstance(event, TracePurged) and event.trace_id not in purged:
                    events.append(event)
            count = yield CountStreamEvents(experiment_stream(experiment_id))
            events.append(
                ExperimentPurged(experiment_id=experiment_id, time=ctx.now, events_removed=count)
            )
    runs = sum(isinstance(e, RunPurged) for e in events)
    traces = sum(isinstance(e, TracePurged) for e in events)
    result = BulkResult(
        count=runs,
        experiments=len(events) - runs - traces,
        artifact_uris=artifact_uris,
        traces=traces,
    )
    return Outcome(events=events, result=result)
