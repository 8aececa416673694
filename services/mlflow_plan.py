"""Turn what an MLflow source holds into trackledger events: experiments and logged models
(runs are in ``mlflow_runs.py``).

Each object becomes events with its original times (``recorded_at`` and the events' own
time fields), its original actor where MLflow knows one, and first a marker
(``*.imported``) that names the source, carries the importer as its actor, and records
what the source held. A later import compares the source with that marker: it brings what
changed in MLflow since, and leaves alone what was changed here (three-way, like a merge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from trackledger.eventlog import events as e
from trackledger.eventlog.decide_experiments import artifact_location_for
from trackledger.eventlog.store import StoredEvent
from trackledger.services.mlflow_source import SourceExperiment, SourceModel
from trackledger.services.mlflow_target import HeldExperiment, HeldModel

__all__ = [
    "ExperimentPlan",
    "Import",
    "Tally",
    "experiment_events",
    "map_experiments",
    "model_events",
    "stored",
    "tag_changes",
    "tag_dict",
]

ROOT = "mlflow-artifacts:/"


@dataclass(frozen=True)
class Import:
    """What every event of one import shares."""

    source: str
    imported_at: int
    importer: str | None
    copy_artifacts: bool


@dataclass
class Tally:
    """What an import brought (or, in a dry run, would bring)."""

    experiments_created: int = 0
    experiments_updated: int = 0
    runs_created: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    runs_skipped: int = 0
    models_created: int = 0
    models_updated: int = 0
    registered_models_created: int = 0
    registered_models_updated: int = 0
    points: int = 0
    params: int = 0
    tags: int = 0
    datasets: int = 0
    files: int = 0
    bytes: int = 0
    events: int = 0
    deleted_past_retention: int = 0
    clashes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def stored(event: e.Event, recorded_at: int | None, actor: str | None, now: int) -> StoredEvent:
    return StoredEvent(
        position=0,
        stream_id=event.stream,
        type=event.__struct_config__.tag,  # type: ignore[arg-type]
        recorded_at=recorded_at if recorded_at is not None else now,
        actor=actor or None,
        idempotency_key=None,
        event=event,  # type: ignore[arg-type]
    )


def tag_changes(
    source: dict[str, str], base: dict[str, str] | None, held: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Tags to set and keys to delete here: what changed in the source since ``base`` (what
    the last import saw) and differs from what is ``held``. Without a base (an object that
    was here before any import), the source's tags are set and none is deleted."""
    to_set = {
        k: v for k, v in source.items() if (base is None or base.get(k) != v) and held.get(k) != v
    }
    gone = [] if base is None else [k for k in base if k not in source and k in held]
    return to_set, sorted(gone)


def tag_dict(tags: list[e.Tag]) -> dict[str, str]:
    return {t.key: t.value for t in tags}


def as_tags(pairs: dict[str, str]) -> list[e.Tag]:
    return [e.Tag(k, v) for k, v in sorted(pairs.items())]


# -- experiments -----------------------------------------------------------------------


@dataclass
class ExperimentPlan:
    source: SourceExperiment
    #: The experiment's id here (None: not imported, see ``clash``).
    target_id: str | None
    held: HeldExperiment | None = None
    clash: str | None = None


def map_experiments(
    experiments: list[SourceExperiment],
    held: dict[str, HeldExperiment],
    taken: set[str],
    source: str,
    renumber: bool,
) -> list[ExperimentPlan]:
    """Where each source experiment goes: the experiment an earlier import made of it, the
    one here with its id and name (Default), a new one with its id, or (``renumber``) a
    new id when its id is taken. Anything else is a clash, reported and not imported."""
    by_origin = {
        h.marker.source_id: h
        for h in held.values()
        if h.marker is not None and h.marker.source == source
    }
    by_name = {h.name: h for h in held.values()}
    claimed = set(taken) | {x.experiment_id for x in experiments}
    next_id = max((int(i) for i in claimed if i.isdigit()), default=0) + 1
    plans = []
    for x in experiments:
        same = by_origin.get(x.experiment_id)
        if same is None and x.experiment_id in held and held[x.experiment_id].name == x.name:
            same = held[x.experiment_id]
        if same is not None:
            plans.append(ExperimentPlan(x, same.experiment_id, same))
            continue
        named = by_name.get(x.name)
        if named is not None:
            plans.append(
                ExperimentPlan(
                    x,
                    None,
                    clash=f"experiment {x.experiment_id} {x.name!r}: the name belongs to "
                    f"experiment {named.experiment_id} here",
                )
            )
        elif x.experiment_id not in taken:
            plans.append(ExperimentPlan(x, x.experiment_id))
        elif renumber:
            plans.append(ExperimentPlan(x, str(next_id)))
            next_id += 1
        else:
            holder = held.get(x.experiment_id)
            what = f"experiment {holder.name!r}" if holder else "a purged experiment"
            plans.append(
                ExperimentPlan(
                    x,
                    None,
                    clash=f"experiment {x.experiment_id} {x.name!r}: id {x.experiment_id} "
                    f"belongs to {what} here (--renumber gives it a new id)",
                )
            )
    return plans


def experiment_location(x: SourceExperiment, target_id: str, imp: Import) -> str:
    """Copied artifacts live in trackledger's store, and so do those of new runs; a
    location elsewhere is kept when artifacts are left in place."""
    if imp.copy_artifacts or x.artifact_location.startswith("mlflow-artifacts:"):
        return artifact_location_for(ROOT, target_id)
    return x.artifact_location


def _experiment_marker(x: SourceExperiment, target_id: str, imp: Import) -> e.ExperimentImported:
    return e.ExperimentImported(
        experiment_id=target_id,
        source=imp.source,
        source_id=x.experiment_id,
        imported_at=imp.imported_at,
        name=x.name,
        lifecycle_stage=x.lifecycle_stage,
        last_update_time=x.last_update_time,
        tags=as_tags(x.tags),
    )


def experiment_events(plan: ExperimentPlan, imp: Import) -> list[StoredEvent]:
    x, target_id, now = plan.source, plan.target_id, imp.imported_at
    assert target_id is not None
    marker = stored(_experiment_marker(x, target_id, imp), x.creation_time, imp.importer, now)
    if plan.held is None:
        out = [
            marker,
            stored(
                e.ExperimentCreated(
                    experiment_id=target_id,
                    name=x.name,
                    artifact_location=experiment_location(x, target_id, imp),
                    creation_time=x.creation_time if x.creation_time is not None else now,
                    tags=as_tags(x.tags),
                ),
                x.creation_time,
                None,
                now,
            ),
        ]
        if x.lifecycle_stage == "deleted":
            when = x.last_update_time if x.last_update_time is not None else now
            out.append(
                stored(e.ExperimentDeleted(experiment_id=target_id, time=when), when, None, now)
            )
        return out
    return _experiment_update(plan, marker, imp)


def _experiment_update(plan: ExperimentPlan, marker: StoredEvent, imp: Import) -> list[StoredEvent]:
    x, held, now = plan.source, plan.held, imp.imported_at
    assert held is not None and plan.target_id is not None
    base = held.marker
    changes: list[StoredEvent] = []
    when = x.last_update_time if x.last_update_time is not None else now
    if x.name != (base.name if base else held.name) and x.name != held.name:
        renamed = e.ExperimentRenamed(experiment_id=plan.target_id, name=x.name, time=when)
        changes.append(stored(renamed, when, None, now))
    to_set, gone = tag_changes(x.tags, tag_dict(base.tags) if base else None, held.tags)
    for key, value in sorted(to_set.items()):
        tagged = e.ExperimentTagSet(experiment_id=plan.target_id, key=key, value=value)
        changes.append(stored(tagged, now, None, now))
    for key in gone:
        untagged = e.ExperimentTagDeleted(experiment_id=plan.target_id, key=key)
        changes.append(stored(untagged, now, None, now))
    seen = base.lifecycle_stage if base else held.lifecycle_stage
    if x.lifecycle_stage != seen and x.lifecycle_stage != held.lifecycle_stage:
        cls = e.ExperimentDeleted if x.lifecycle_stage == "deleted" else e.ExperimentRestored
        changes.append(stored(cls(experiment_id=plan.target_id, time=when), when, None, now))
    same_seen = base is not None and (
        base.name,
        base.lifecycle_stage,
        base.last_update_time,
        tag_dict(base.tags),
    ) == (x.name, x.lifecycle_stage, x.last_update_time, x.tags)
    if not changes and same_seen:
        return []
    return [marker, *changes]


# -- logged models ---------------------------------------------------------------------


def model_location(m: SourceModel, target_experiment: str, imp: Import, copied: bool) -> str:
    if imp.copy_artifacts and copied:
        return f"{artifact_location_for(ROOT, target_experiment)}/models/{m.model_id}/artifacts"
    return m.artifact_location


def model_events(
    m: SourceModel,
    target_experiment: str,
    held: HeldModel | None,
    location: str,
    imp: Import,
) -> list[StoredEvent]:
    now = imp.imported_at
    actor = m.tags.get("mlflow.user")
    updated = m.last_updated_time if m.last_updated_time is not None else now
    marker = e.LoggedModelImported(
        model_id=m.model_id,
        source=imp.source,
        source_id=m.model_id,
        imported_at=now,
        status=m.status,
        lifecycle_stage=m.lifecycle_stage,
        last_updated_time=m.last_updated_time,
        tags=as_tags(m.tags),
    )
    out = [stored(marker, m.creation_time, imp.importer, now)]
    if held is None:
        created = e.LoggedModelCreated(
            model_id=m.model_id,
            experiment_id=target_experiment,
            name=m.name,
            artifact_location=location,
            creation_time=m.creation_time if m.creation_time is not None else now,
            source_run_id=m.source_run_id,
            model_type=m.model_type,
            params=[e.Param(k, v) for k, v in sorted(m.params.items())],
            tags=as_tags(m.tags),
        )
        out.append(stored(created, m.creation_time, actor, now))
        if m.status != "LOGGED_MODEL_PENDING":
            finalized = e.LoggedModelFinalized(model_id=m.model_id, status=m.status, time=updated)
            out.append(stored(finalized, updated, actor, now))
        if m.lifecycle_stage == "deleted":
            out.append(
                stored(e.LoggedModelDeleted(model_id=m.model_id, time=updated), updated, actor, now)
            )
        return out
    changes = list(_model_changes(m, held, updated, actor, now))
    base = held.marker
    same_seen = base is not None and (
        base.status,
        base.lifecycle_stage,
        base.last_updated_time,
        tag_dict(base.tags),
    ) == (m.status, m.lifecycle_stage, m.last_updated_time, m.tags)
    if not changes and same_seen:
        return []
    return out + changes


def _model_changes(
    m: SourceModel, held: HeldModel, updated: int, actor: str | None, now: int
) -> Iterable[StoredEvent]:
    base = held.marker
    if m.status != (base.status if base else held.status) and m.status != held.status:
        yield stored(
            e.LoggedModelFinalized(model_id=m.model_id, status=m.status, time=updated),
            updated,
            actor,
            now,
        )
    to_set, gone = tag_changes(m.tags, tag_dict(base.tags) if base else None, held.tags)
    if to_set:
        tagged = e.LoggedModelTagged(model_id=m.model_id, tags=as_tags(to_set), time=updated)
        yield stored(tagged, updated, actor, now)
    for key in gone:
        yield stored(
            e.LoggedModelTagDeleted(model_id=m.model_id, key=key, time=updated), updated, actor, now
        )
    new_params = {k: v for k, v in m.params.items() if k not in held.params}
    if new_params:
        params = [e.Param(k, v) for k, v in sorted(new_params.items())]
        logged = e.LoggedModelParamsLogged(model_id=m.model_id, params=params, time=updated)
        yield stored(logged, updated, actor, now)
    seen = base.lifecycle_stage if base else held.lifecycle_stage
    if m.lifecycle_stage == "deleted" and seen != "deleted" and held.lifecycle_stage != "deleted":
        yield stored(e.LoggedModelDeleted(model_id=m.model_id, time=updated), updated, actor, now)
