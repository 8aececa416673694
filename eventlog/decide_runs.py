"""Decisions for run commands (MLflow's rules, reference sections 3.2 and 7)."""

from __future__ import annotations

import uuid

from trackledger.eventlog import validation as v
from trackledger.eventlog.commands import (
    CreateRun,
    DeleteRunTag,
    LogBatch,
    LogInputs,
    MetricIn,
    TagIn,
    UpdateRun,
)
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide_experiments import active as active_experiment
from trackledger.eventlog.errors import InactiveRun, InvalidInput, NotFound, ParamChanged
from trackledger.eventlog.events import (
    BatchLogged,
    DatasetInput,
    Event,
    InputsLogged,
    MetricPoint,
    MetricsLogged,
    Param,
    ParamsLogged,
    RunCreated,
    RunTagDeleted,
    RunTagged,
    RunUpdated,
    Tag,
)
from trackledger.eventlog.lookups import (
    Ask,
    Decision,
    GetParams,
    GetRun,
    GetRunTags,
    Outcome,
    RunState,
)
from trackledger.eventlog.names import random_run_name
from trackledger.eventlog.results import CreatedRun, Nothing, RunInfo

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"
ROOT_RUN_TAG = "mlflow.rootRunId"


def existing(run_id: str, lock: str = "share") -> Ask[RunState]:
    run: RunState | None = yield GetRun(run_id, lock)
    if run is None:
        raise NotFound(f"Run with id={run_id} not found")
    return run


def active(run_id: str, lock: str = "share") -> Ask[RunState]:
    run = yield from existing(run_id, lock)
    if run.lifecycle_stage != "active":
        raise InactiveRun(run_id, run.lifecycle_stage)
    return run


def _run_tag(tag: TagIn, field: str) -> Tag:
    key = v.require(tag.key, f"{field}key")
    v.check_entity_name(key, f"{field}key")
    return Tag(key, v.truncate(tag.value or "", v.MAX_TAG_VALUE_LENGTH))


def create(cmd: CreateRun, ctx: DecideContext) -> Decision:
    experiment_id = cmd.experiment_id or "0"
    # MLflow stores create-run tags unvalidated; we keep its truncation so nothing
    # oversized reaches the log, and still require a key.
    tags: dict[str, str] = {}
    for i, tag in enumerate(cmd.tags):
        key = v.require(tag.key, f"tags[{i}].key")
        v.check_length(key, v.MAX_ENTITY_KEY_LENGTH, f"tags[{i}].key")
        tags[key] = v.truncate(tag.value or "", v.MAX_TAG_VALUE_LENGTH)
    tagged_name = tags.get(RUN_NAME_TAG)
    if cmd.run_name and tagged_name and cmd.run_name != tagged_name:
        raise InvalidInput(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{cmd.run_name}', mlflow.runName='{tagged_name}')."
        )
    name = cmd.run_name or tagged_name or random_run_name()
    v.check_length(name, v.MAX_RUN_NAME_LENGTH, "run_name")
    tags[RUN_NAME_TAG] = name
    start_time = cmd.start_time or ctx.now
    v.check_timestamp(start_time, "start_time")
    experiment = yield from active_experiment(experiment_id)
    parent_id = tags.get(PARENT_RUN_TAG)
    if parent_id and ROOT_RUN_TAG not in tags:
        # Record the tree's root on every nested run, so a whole tree is one search.
        parent_tags = yield GetRunTags(parent_id, [ROOT_RUN_TAG])
        tags[ROOT_RUN_TAG] = parent_tags.get(ROOT_RUN_TAG, parent_id)
    run_id = uuid.uuid4().hex
    event = RunCreated(
        run_id=run_id,
        experiment_id=experiment.experiment_id,
        run_name=name,
        user_id=cmd.user_id or "",  # MLflow stores (and returns) "" when none is sent
        start_time=start_time,
        artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
        tags=[Tag(k, val) for k, val in tags.items()],
    )
    return Outcome(events=[event], result=CreatedRun(event=event))


def update(cmd: UpdateRun, ctx: DecideContext) -> Decision:
    if cmd.status is not None and cmd.status not in RUN_STATUSES:
        raise InvalidInput(
            f"Invalid value {cmd.status!r} for parameter 'status' supplied. "
            f"It must be one of {', '.join(RUN_STATUSES)}."
        )
    if cmd.end_time is not None:
        v.check_timestamp(cmd.end_time, "end_time")
    run_name = cmd.run_name or None
    if run_name is not None:
        v.check_length(run_name, v.MAX_RUN_NAME_LENGTH, "run_name")
    run = yield from active(cmd.run_id, "update")
    updated = RunState(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        run_name=run_name if run_name is not None else run.run_name,
        user_id=run.user_id,
        status=cmd.status if cmd.status is not None else run.status,
        start_time=run.start_time,
        end_time=cmd.end_time if cmd.end_time is not None else run.end_time,
        artifact_uri=run.artifact_uri,
        lifecycle_stage=run.lifecycle_stage,
    )
    if cmd.status is None and cmd.end_time is None and run_name is None:
        return Outcome(events=[], result=RunInfo(run=updated))
    event = RunUpdated(
        run_id=cmd.run_id, status=cmd.status, end_time=cmd.end_time, run_name=run_name
    )
    return Outcome(events=[event], result=RunInfo(run=updated))


def _check_batch_limits(cmd: LogBatch) -> None:
    counts = (
        ("metrics", len(cmd.metrics), v.MAX_METRICS_PER_BATCH),
        ("params", len(cmd.params), v.MAX_PARAMS_TAGS_PER_BATCH),
        ("tags", len(cmd.tags), v.MAX_PARAMS_TAGS_PER_BATCH),
    )
    for kind, count, limit in counts:
        if count > limit:
            raise InvalidInput(
                f"A batch logging request can contain at most {limit} {kind}. Got {count} "
                f"{kind}. Please split up {kind} across multiple requests and try again."
            )
    total = sum(count for _, count, _ in counts)
    if total > v.MAX_ENTITIES_PER_BATCH:
        raise InvalidInput(
            "A batch logging request can contain at most "
            f"{v.MAX_ENTITIES_PER_BATCH} total metrics, params, and tags. Got {total} "
            "entities. Please split up the data across multiple requests and try again."
        )


def _metric(metric: MetricIn, field: str) -> MetricPoint:
    key = v.require(metric.key, f"{field}key")
    v.check_entity_name(key, f"{field}key")
    if metric.value is None:
        raise v.missing(f"{field}value")
    value = v.check_metric_value(metric.value, key)
    if metric.timestamp is None:
        raise v.missing(f"{field}timestamp")
    v.check_timestamp(metric.timestamp, key)
    step = metric.step or 0
    v.check_step(step, key)
    return MetricPoint(
        key,
        value,
        metric.timestamp,
        step,
        metric.model_id or None,
        metric.dataset_name or None,
        metric.dataset_digest or None,
    )


def _points(metrics: list[MetricIn], batch: bool) -> list[MetricPoint]:
    """The metrics as points. Nearly every point is plainly valid (a float value, a key
    accepted before, a timestamp and a step in range) and is taken as it is, in one line;
    any other goes through ``_metric``'s checks one by one, which word the error."""
    known = v.KNOWN_NAMES
    top = v.MAX_INT64
    points = []
    for i, m in enumerate(metrics):
        ts = m.timestamp
        step = m.step or 0
        if (
            type(m.value) is float
            and m.key in known
            and ts is not None
            and 0 <= ts <= top
            and -top - 1 <= step <= top
        ):
            point = MetricPoint(
                m.key,
                m.value,
                ts,
                step,
                m.model_id or None,
                m.dataset_name or None,
                m.dataset_digest or None,
            )
        else:
            point = _metric(m, f"metrics[{i}]." if batch else "")
        points.append(point)
    return points


def _check_params_unchanged(
    cmd: LogBatch, params: list[Param], logged: dict[str, str]
) -> list[Param]:
    """Return the params not logged yet; raise if any logged one would change."""
    conflicts = [p for p in params if p.key in logged and logged[p.key] != p.value]
    if conflicts and cmd.shape != "batch":
        p = conflicts[0]
        raise ParamChanged(
            "Changing param values is not allowed. Param with key="
            f"'{p.key}' was already logged with value='{logged[p.key]}' for run "
            f"ID='{cmd.run_id}'. Attempted logging new value '{p.value}'."
        )
    if conflicts:
        listed = [
            {"key": p.key, "old_value": logged[p.key], "new_value": p.value} for p in conflicts
        ]
        raise ParamChanged(
            f"Changing param values is not allowed. Params were already logged='{listed}' "
            f"for run ID='{cmd.run_id}'."
        )
    return [p for p in params if p.key not in logged]


def log_batch(cmd: LogBatch, ctx: DecideContext) -> Decision:
    batch = cmd.shape == "batch"
    if batch:
        v.check_run_id(cmd.run_id)
    _check_batch_limits(cmd)
    metrics = _points(cmd.metrics, batch)
    params: list[Param] = []
    for i, param in enumerate(cmd.params):
        field = f"params[{i}].key" if batch else "key"
        key = v.require(param.key, field)
        v.check_entity_name(key, field)
        params.append(Param(key, v.truncate(param.value or "", v.MAX_PARAM_VALUE_LENGTH)))
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidInput(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure "
            "the request contains only one param value per param key."
        )
    tags = {}
    for i, tag in enumerate(cmd.tags):
        t = _run_tag(tag, f"tags[{i}]." if batch else "")
        tags[t.key] = t  # the last of duplicated keys wins, as in MLflow
    # Checking params against the logged ones must not race another writer's params.
    yield from active(cmd.run_id, "update" if params else "share")
    if params:
        logged: dict[str, str] = yield GetParams(cmd.run_id, keys)
        params = _check_params_unchanged(cmd, params, logged)
    event = _batch_event(cmd.run_id, metrics, params, list(tags.values()))
    return Outcome(events=[] if event is None else [event], result=Nothing())


def _batch_event(
    run_id: str, metrics: list[MetricPoint], params: list[Param], tags: list[Tag]
) -> Event | None:
    """One event per call: the specific kind when only one kind of data came."""
    kinds = sum(1 for part in (metrics, params, tags) if part)
    if kinds == 0:
        return None
    if kinds > 1:
        return BatchLogged(run_id=run_id, metrics=metrics, params=params, tags=tags)
    if metrics:
        return MetricsLogged(run_id=run_id, metrics=metrics)
    if params:
        return ParamsLogged(run_id=run_id, params=params)
    return RunTagged(run_id=run_id, tags=tags)


def delete_tag(cmd: DeleteRunTag, ctx: DecideContext) -> Decision:
    key = v.require(cmd.key, "key")
    yield from active(cmd.run_id)
    present = yield GetRunTags(cmd.run_id, [key])
    if key not in present:
        raise NotFound(f"No tag with name: {key} in run with id {cmd.run_id}")
    return Outcome(events=[RunTagDeleted(run_id=cmd.run_id, key=key)], result=Nothing())


def _check_dataset(dataset: DatasetInput, i: int) -> None:
    field = f"datasets[{i}].dataset"
    for name, value, limit in (
        ("name", dataset.name, v.MAX_DATASET_NAME_LENGTH),
        ("digest", dataset.digest, v.MAX_DATASET_DIGEST_LENGTH),
        ("source_type", dataset.source_type, v.MAX_DATASET_SOURCE_LENGTH),
        ("source", dataset.source, v.MAX_DATASET_SOURCE_LENGTH),
    ):
        v.require(value, f"{field}.{name}")
        v.check_length(value, limit, f"{field}.{name}")
    if dataset.schema is not None:
        v.check_length(dataset.schema, v.MAX_DATASET_SCHEMA_LENGTH, f"{field}.schema")
    if dataset.profile is not None:
        v.check_length(dataset.profile, v.MAX_DATASET_PROFILE_LENGTH, f"{field}.profile")
    for j, tag in enumerate(dataset.tags):
        v.require(tag.key, f"datasets[{i}].tags[{j}].key")
        v.check_length(tag.key, v.MAX_INPUT_TAG_KEY_LENGTH, f"datasets[{i}].tags[{j}].key")
        v.check_length(tag.value, v.MAX_INPUT_TAG_VALUE_LENGTH, f"datasets[{i}].tags[{j}].value")


def log_inputs(cmd: LogInputs, ctx: DecideContext) -> Decision:
    v.check_run_id(cmd.run_id)
    for i, dataset in enumerate(cmd.datasets):
        _check_dataset(dataset, i)
    for i, model_id in enumerate(cmd.model_ids):
        v.require(model_id, f"models[{i}].model_id")
    yield from active(cmd.run_id)
    if not cmd.datasets and not cmd.model_ids:
        return Outcome(events=[], result=Nothing())
    event = InputsLogged(run_id=cmd.run_id, datasets=cmd.datasets, model_ids=cmd.model_ids)
    return Outcome(events=[event], result=Nothing())
