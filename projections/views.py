"""What the read model answers with, and the interface every backend's read model offers."""

from __future__ import annotations

from typing import Protocol

import msgspec

from trackledger.eventlog.events import DatasetInput, ModelOutput, Param, Tag
from trackledger.eventlog.lookups import RunState
from trackledger.projections.search.pages import Resume

__all__ = [
    "ExperimentView",
    "LoggedModelView",
    "MetricValue",
    "Page",
    "ReadModel",
    "RunTree",
    "RunView",
    "TreeNode",
]


class MetricValue(msgspec.Struct, frozen=True):
    key: str
    value: float
    timestamp: int
    step: int


class ExperimentView(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: list[Tag]


class RunView(msgspec.Struct, frozen=True, kw_only=True):
    info: RunState
    metrics: list[MetricValue]
    params: list[Param]
    tags: list[Tag]
    datasets: list[DatasetInput]
    model_ids: list[str]
    outputs: list[ModelOutput] = []


class ModelMetric(msgspec.Struct, frozen=True, kw_only=True):
    """A metric point logged with a model_id: the model's own metrics."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str
    dataset_name: str | None
    dataset_digest: str | None


class LoggedModelView(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    creation_time: int | None
    last_updated_time: int | None
    status: str
    source_run_id: str | None
    model_type: str | None
    lifecycle_stage: str
    tags: list[Tag]
    params: list[Param]
    metrics: list[ModelMetric] = []


class TreeNode(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    parent_id: str | None
    run_name: str | None
    status: str
    lifecycle_stage: str
    start_time: int | None


class RunTree(msgspec.Struct, frozen=True, kw_only=True):
    """A run's whole tree: the path from the root down to it, and every node under the root."""

    path: list[str]
    nodes: list[TreeNode]


class Page(msgspec.Struct, frozen=True):
    """One page of results; ``next_offset`` is None on the last page. A run search's
    ``resume`` says where its next page starts (``search/resume.py``), if it can."""

    items: list[msgspec.Struct]
    next_offset: int | None
    resume: Resume | None = None


class ReadModel(Protocol):
    async def get_experiment(self, experiment_id: str) -> ExperimentView | None: ...

    async def get_experiment_by_name(self, name: str) -> ExperimentView | None: ...

    async def search_experiments(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        view_type: str,
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[int, ...]] | None = None,
    ) -> Page:
        """``restrict``: (True, ids) searches only those experiments, (False, ids) all
        others."""
        ...

    async def get_run(self, run_id: str) -> RunView | None: ...

    async def search_runs(
        self,
        *,
        experiment_ids: list[int],
        filter_text: str | None,
        order_by: list[str],
        view_type: str,
        max_results: int,
        offset: int,
        resume: Resume | None = None,
    ) -> Page:
        """``resume``: where a page token says the page starts (``search/resume.py``)."""
        ...

    async def metric_history(
        self, run_id: str, key: str, *, offset: int, limit: int | None
    ) -> Page: ...

    async def run_tree(self, run_id: str) -> RunTree | None: ...

    async def logged_models(
        self, experiment_ids: list[int], model_id: str | None = None
    ) -> list[LoggedModelView]: ...
