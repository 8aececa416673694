"""Searches answered only with what the caller may read.

For a user who is not an admin, handlers get this view of the backend (``calls.backend``):
every search and listing across experiments leaves out the experiments the user may not
read, in the query itself, so pages stay full and page tokens stay valid. Reads of one
resource are judged by the route's rule before the handler runs.

Each scoped class decides every public read of the class it narrows: it overrides it, or
names it in ``passed_through`` (reads of given resources, which the route's rule judges).
A read added to ``Browse``, ``RegistryReads``, ``TraceReads`` or ``ReadModel`` without a
decision here fails tests/api/test_auth_scope.py instead of answering across experiments.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from trackledger.api.auth.access import ExperimentScope
from trackledger.eventlog.store import EventStore
from trackledger.eventlog.trace_events import SpanRecord
from trackledger.projections.auth_reads import AuthReads
from trackledger.projections.browse import (
    Browse,
    DatasetSummary,
    RunCounts,
    RunKeys,
)
from trackledger.projections.registry_reads import RegistryReads
from trackledger.projections.search.pages import Resume
from trackledger.projections.sqlite_rebuild import CHUNK, Progress
from trackledger.projections.trace_reads import TraceInfoView, TracePage, TraceReads
from trackledger.projections.views import (
    ExperimentView,
    LoggedModelView,
    Page,
    ReadModel,
    RunTree,
    RunView,
)
from trackledger.services.backends import Backend
from trackledger.services.migrations import Migration

__all__ = ["ScopedBackend"]

#: The resources of a type (experiment, registered_model) the caller may read.
ScopeSource = Callable[[str], Awaitable[ExperimentScope]]


class _Scoped:
    def __init__(self, scope: ScopeSource) -> None:
        self._scope = scope
        self._known: dict[str, ExperimentScope] = {}

    async def scope(self, resource_type: str = "experiment") -> ExperimentScope:
        if resource_type not in self._known:
            self._known[resource_type] = await self._scope(resource_type)
        return self._known[resource_type]

    async def readable(self, experiment_ids: list[int]) -> list[int]:
        scope = await self.scope()
        return [e for e in experiment_ids if scope.allows(str(e))]


class ScopedReads(ReadModel):
    passed_through: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, reads: ReadModel, scoped: _Scoped) -> None:
        self._reads = reads
        self._scoped = scoped

    async def get_experiment(self, experiment_id: str) -> ExperimentView | None:
        return await self._reads.get_experiment(experiment_id)

    async def get_experiment_by_name(self, name: str) -> ExperimentView | None:
        return await self._reads.get_experiment_by_name(name)

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
        return await self._reads.search_experiments(
            filter_text=filter_text,
            order_by=order_by,
            view_type=view_type,
            max_results=max_results,
            offset=offset,
            restrict=(await self._scoped.scope()).restrict(),
        )

    async def get_run(self, run_id: str) -> RunView | None:
        return await self._reads.get_run(run_id)

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
        readable = await self._scoped.readable(experiment_ids)
        if experiment_ids and not readable:
            # Still check the filter, so a malformed one is a 400 as for anyone.
            await self._reads.search_runs(
                experiment_ids=[],
                filter_text=filter_text,
                order_by=order_by,
                view_type=view_type,
                max_results=1,
                offset=0,
            )
            return Page([], None)
        return await self._reads.search_runs(
            experiment_ids=readable,
            filter_text=filter_text,
            order_by=order_by,
            view_type=view_type,
            max_results=max_results,
            offset=offset,
            resume=resume,
        )

    async def metric_history(
        self, run_id: str, key: str, *, offset: int, limit: int | None
    ) -> Page:
        return await self._reads.metric_history(run_id, key, offset=offset, limit=limit)

    async def run_tree(self, run_id: str) -> RunTree | None:
        return await self._reads.run_tree(run_id)

    async def logged_models(
        self, experiment_ids: list[int], model_id: str | None = None
    ) -> list[LoggedModelView]:
        if model_id is None:
            experiment_ids = await self._scoped.readable(experiment_ids)
            if not experiment_ids:
                return []
        return await self._reads.logged_models(experiment_ids, model_id)


class ScopedBrowse(Browse):
    """The UI's reads, those across experiments narrowed; reads of given runs are judged by
    the route's rule and pass through."""

    passed_through: ClassVar[frozenset[str]] = frozenset(
        {"existing_runs", "metric_histories", "history_bulk", "history_sampled"}
    )

    def __init__(self, browse: Browse, scoped: _Scoped) -> None:
        super().__init__(browse._fetchall)
        self._browse = browse
        self._scoped = scoped

    async def run_counts(self, experiment_ids: list[int]) -> dict[str, RunCounts]:
        return await self._browse.run_counts(await self._scoped.readable(experiment_ids))

    async def run_keys(self, experiment_ids: list[int]) -> RunKeys:
        return await self._browse.run_keys(await self._scoped.readable(experiment_ids))

    async def dataset_summaries(self, experiment_ids: list[int]) -> list[DatasetSummary]:
        return await self._browse.dataset_summaries(await self._scoped.readable(experiment_ids))


class ScopedRegistry(RegistryReads):
    """The registry's reads, its searches narrowed to the models the caller may read."""

    #: Reads of one model or version, by name or id, judged by the route's rule.
    passed_through: ClassVar[frozenset[str]] = frozenset(
        {
            "model_named",
            "model",
            "model_ids_named",
            "version",
            "versions",
            "latest_in_stages",
            "alias",
        }
    )

    def __init__(self, registry: RegistryReads, scoped: _Scoped) -> None:
        super().__init__(registry._fetchall, registry._dialect)
        self._scoped = scoped

    async def search_models(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[str, ...]] | None = None,
    ) -> Page:
        return await super().search_models(
            filter_text=filter_text,
            order_by=order_by,
            max_results=max_results,
            offset=offset,
            restrict=(await self._scoped.scope("registered_model")).restrict_ids(),
        )

    async def search_versions(
        self,
        *,
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
        restrict: tuple[bool, tuple[str, ...]] | None = None,
    ) -> Page:
        return await super().search_versions(
            filter_text=filter_text,
            order_by=order_by,
            max_results=max_results,
            offset=offset,
            restrict=(await self._scoped.scope("registered_model")).restrict_ids(),
        )


class ScopedTraces(TraceReads):
    """The traces' reads: a trace in an experiment the caller may not read is not there
    (its reads answer 404, searches and counts leave it out)."""

    #: Reads of one trace or assessment, judged by the route's rule.
    passed_through: ClassVar[frozenset[str]] = frozenset({"info", "assessment"})

    def __init__(self, traces: TraceReads, scoped: _Scoped) -> None:
        super().__init__(traces._fetchall, traces._dialect)
        self._scoped = scoped

    async def infos(
        self, trace_ids: Sequence[str], *, deleted: bool = False
    ) -> list[TraceInfoView]:
        scope = await self._scoped.scope()
        found = await super().infos(trace_ids, deleted=deleted)
        return [view for view in found if scope.allows(view.experiment_id)]

    async def _readable_ids(self, trace_ids: Sequence[str]) -> list[str]:
        readable = {view.trace_id for view in await self.infos(trace_ids, deleted=True)}
        return [t for t in trace_ids if t in readable]

    async def spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanRecord]]:
        return await super().spans(await self._readable_ids(trace_ids))

    async def span_counts(self, trace_ids: Sequence[str]) -> dict[str, int]:
        return await super().span_counts(await self._readable_ids(trace_ids))

    async def search(
        self,
        *,
        experiment_ids: list[int],
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
    ) -> TracePage:
        return await super().search(
            experiment_ids=await self._scoped.readable(experiment_ids),
            filter_text=filter_text,
            order_by=order_by,
            max_results=max_results,
            offset=offset,
        )

    async def count(self, experiment_ids: list[int], filters: list[str | None]) -> int:
        return await super().count(await self._scoped.readable(experiment_ids), filters)

    async def run_traces(self, run_id: str) -> list[str]:
        return await self._readable_ids(await super().run_traces(run_id))

    async def counts(self, experiment_ids: list[int]) -> dict[str, int]:
        return await super().counts(await self._scoped.readable(experiment_ids))


class ScopedBackend:
    """``backend`` with its searches narrowed to what one user may read."""

    def __init__(self, backend: Backend, scope: ScopeSource) -> None:
        scoped = _Scoped(scope)
        self._backend = backend
        self.kind = backend.kind
        self.reads = ScopedReads(backend.reads, scoped)
        self.browse = ScopedBrowse(backend.browse, scoped)
        self.registry = ScopedRegistry(backend.registry, scoped)
        self.traces = ScopedTraces(backend.traces, scoped)
        self.upgraded: list[Migration] = backend.upgraded

    @property
    def store(self) -> EventStore:
        return self._backend.store

    @property
    def auth(self) -> AuthReads:
        return self._backend.auth

    async def rebuild(self, progress: Progress | None = None, chunk: int = CHUNK) -> int:
        return await self._backend.rebuild(progress, chunk)

    async def verify(
        self,
        progress: Progress | None = None,
        shuffle: random.Random | None = None,
        chunk: int = CHUNK,
    ) -> dict[str, int]:
        return await self._backend.verify(progress, shuffle, chunk)

    async def refresh_statistics(self) -> list[str]:
        return await self._backend.refresh_statistics()

    async def close(self) -> None:
        await self._backend.close()

    async def finish_upgrade(self, progress: Progress | None = None) -> bool:
        return await self._backend.finish_upgrade(progress)
