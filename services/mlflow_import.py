"""Import an MLflow tracking server or database into trackledger (``trackledger
import-mlflow``).

The source is read in bulk (experiments, logged models, runs in batches with their metric
histories, then the model registry), each object is compared with what trackledger holds,
and what is new or changed becomes events, appended a batch at a time in one transaction
each (``append_imported``: the events keep their original times); while one batch is
appended the next is read. Ids are kept (experiment ids where free, run and logged model
ids, registered model names); an experiment whose id or name is taken here, or a run,
logged model or registered model that exists here without having been imported, is a
clash: reported and left out (``renumber`` gives an experiment whose id alone is taken a
new id, reported). Running the import again brings only what changed in the source since.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from trackledger.eventlog import events as e
from trackledger.eventlog.store import StoredEvent
from trackledger.services.artifact_store import ArtifactStore, PathConflict, UnsafePath
from trackledger.services.backends import Backend
from trackledger.services.mlflow_artifacts import Resolver, stored_files, trackledger_path
from trackledger.services.mlflow_plan import (
    ROOT,
    ExperimentPlan,
    Import,
    Tally,
    experiment_events,
    map_experiments,
    model_events,
    model_location,
)
from trackledger.services.mlflow_registry import UriMap, plan_registry
from trackledger.services.mlflow_runs import (
    RunWork,
    new_points,
    new_run_events,
    run_update_events,
    series_to_read,
)
from trackledger.services.mlflow_source import (
    ArtifactReader,
    BatchSize,
    Source,
    SourceExperiment,
    SourceRun,
)
from trackledger.services.mlflow_target import HeldRun, Target

__all__ = ["ImportOptions", "Progress", "import_mlflow", "open_source"]

#: Called after each batch of runs with (runs done, runs in all or None, points so far).
Progress = Callable[[int, int | None, int], None]
#: Artifact copies at once.
_COPIES = 8
#: Metric points a batch of runs aims to hold (a run's whole history is read at once).
POINT_BUDGET = 1_000_000


@dataclass
class ImportOptions:
    #: Experiment ids or names to import (empty: all).
    experiments: list[str] = field(default_factory=list)
    copy_artifacts: bool = True
    dry_run: bool = False
    renumber: bool = False
    #: The actor of the import markers.
    importer: str | None = None
    #: Runs read, compared and appended together.
    batch_runs: int = 500
    #: Deleted runs older than this are reported as past their restore window.
    retention_ms: int = 30 * 86_400_000


async def open_source(uri: str, source_artifacts: str | None = None) -> tuple[Source, list[str]]:
    """The MLflow source at ``uri`` and warnings about it. ``source_artifacts`` is where the
    source's ``mlflow-artifacts:`` files are: the MLflow server's URL or its
    ``--artifacts-destination`` directory (for a database source; default: ``mlartifacts``
    beside a SQLite file, MLflow's own default, when it exists)."""
    from trackledger.services.mlflow_rest import open_rest_source, source_http_client
    from trackledger.services.mlflow_sql import open_sql_source

    if uri.startswith(("http://", "https://")):
        return await open_rest_source(uri, source_artifacts), []
    scheme = uri.split("://", 1)[0]
    if scheme == "sqlite" or scheme.startswith(("postgresql", "postgres")):
        warnings = []
        if source_artifacts is None and scheme == "sqlite":
            beside = Path(uri[len("sqlite:///") :]).parent / "mlartifacts"
            if beside.is_dir():
                source_artifacts = str(beside.resolve())
                warnings.append(f"reading mlflow-artifacts: files from {source_artifacts}")
        http = source_http_client() if source_artifacts else None
        source, more = await open_sql_source(uri, Resolver(http, None, source_artifacts))
        return source, warnings + more
    raise ValueError(
        f"unsupported MLflow source {uri!r}: give a tracking server (http://host:port) or "
        "its database (sqlite:///mlflow.db, postgresql://user@host/db)"
    )


def _select(experiments: list[SourceExperiment], wanted: list[str]) -> list[SourceExperiment]:
    if not wanted:
        return experiments
    by_id = {x.experiment_id: x for x in experiments}
    by_name = {x.name: x for x in experiments}
    chosen: dict[str, SourceExperiment] = {}
    for item in wanted:
        found = by_id.get(item) or by_name.get(item)
        if found is None:
            raise ValueError(f"the source has no experiment with id or name {item!r}")
        chosen[found.experiment_id] = found
    return [x for x in experiments if x.experiment_id in chosen]


class _Importer:
    def __init__(
        self,
        backend: Backend,
        source: Source,
        options: ImportOptions,
        store: ArtifactStore | None,
        now: int,
    ) -> None:
        self.backend = backend
        self.source = source
        self.options = options
        self.store = store
        self.target = Target(backend)
        self.tally = Tally()
        copy = options.copy_artifacts and store is not None
        self.imp = Import(source.label, now, options.importer, copy)
        self.gate = asyncio.Semaphore(_COPIES)
        self.uncopied = 0
        #: Where the source's artifact locations went (for the registry's versions).
        self.moved = UriMap()

    async def append(self, events: list[StoredEvent], new_streams: list[str]) -> None:
        self.tally.events += len(events)
        if events and not self.options.dry_run:
            await self.backend.store.append_imported(events, new_streams=new_streams)

    # -- experiments -----------------------------------------------------------------

    async def experiments(self) -> dict[str, str]:
        """Import the experiments; return source id -> id here for those imported."""
        chosen = _select(await self.source.experiments(), self.options.experiments)
        held = await self.target.experiments()
        taken = await self.target.taken_experiment_ids()
        plans = map_experiments(chosen, held, taken, self.source.label, self.options.renumber)
        events: list[StoredEvent] = []
        new_streams = []
        for plan in plans:
            if plan.target_id is None:
                self.tally.clashes.append(plan.clash or "")
                continue
            changes = experiment_events(plan, self.imp)
            events.extend(changes)
            if plan.held is None:
                self.tally.experiments_created += 1
                new_streams.append(e.experiment_stream(plan.target_id))
            elif changes:
                self.tally.experiments_updated += 1
            if plan.target_id != plan.source.experiment_id:
                self.tally.warnings.append(_renumbered(plan))
        await self.append(events, new_streams)
        return {p.source.experiment_id: p.target_id for p in plans if p.target_id is not None}

    # -- artifacts -------------------------------------------------------------------

    async def copy(
        self, reader: ArtifactReader, destination: str
    ) -> list[tuple[str, int, str]] | None:
        """Copy the files trackledger lacks (or holds with another size) from ``reader`` to
        ``destination`` in its store; return (path, size, sha256) of each copied file, or
        None when the files cannot even be listed."""
        assert self.store is not None
        try:
            async with self.gate:
                listed = await reader.files()
        except (httpx.HTTPError, OSError) as exc:
            self.tally.warnings.append(f"cannot list the files at {reader.where}: {exc}")
            return None
        have = await stored_files(self.store, destination)
        copied = []
        for path, size in listed:
            if have.get(path) == size:
                continue
            self.tally.files += 1
            self.tally.bytes += size
            if self.options.dry_run:
                continue
            try:
                async with self.gate:
                    written = await self.store.write(f"{destination}/{path}", reader.read(path))
            except (httpx.HTTPError, OSError, UnsafePath, PathConflict) as exc:
                self.tally.warnings.append(f"cannot copy {reader.where}/{path}: {exc}")
                continue
            copied.append((path, written.size, written.sha256))
        return copied

    def destination(self, uri: str, ours: str) -> tuple[str, ArtifactReader | None]:
        """The artifact URI an object gets here, and where to copy its files from (None:
        they stay where they are)."""
        reader = self.source.artifacts(uri) if self.imp.copy_artifacts else None
        if reader is None:
            if self.imp.copy_artifacts and uri:
                self.uncopied += 1
            return self.source.reference(uri), None
        return ours, reader

    # -- logged models ---------------------------------------------------------------

    async def models(self, mapping: dict[str, str]) -> None:
        models = await self.source.logged_models(sorted(mapping))
        held = await self.target.models([m.model_id for m in models])
        events: list[StoredEvent] = []
        new_streams = []
        for m in models:
            here = held.get(m.model_id)
            if here is not None and here.marker is None:
                self.tally.clashes.append(f"logged model {m.model_id}: it exists here already")
                continue
            experiment = mapping[m.experiment_id]
            ours = model_location(m, experiment, self.imp, copied=True)
            location, reader = self.destination(m.artifact_location, ours)
            if here is not None:
                location = here.artifact_location
                reader = reader if trackledger_path(location) else None
            path = trackledger_path(location)
            if reader is not None and path is not None:
                if await self.copy(reader, path) is None and here is None:
                    location = self.source.reference(m.artifact_location)  # left in place
            self.moved.add(m.artifact_location, location)
            changes = model_events(m, experiment, here, location, self.imp)
            events.extend(changes)
            if here is None:
                self.tally.models_created += 1
                new_streams.append(e.model_stream(m.model_id))
            elif changes:
                self.tally.models_updated += 1
        await self.append(events, new_streams)

    # -- runs ------------------------------------------------------------------------

    async def runs(self, mapping: dict[str, str], progress: Progress | None) -> None:
        """Import the runs batch by batch: while one batch is appended (on the store's
        writer), the next is read and compared."""
        parents = await self.source.parents()
        experiment_ids = sorted(mapping)
        total = await self.source.count_runs(experiment_ids)
        done = appended = 0
        appending: asyncio.Task[None] | None = None

        async def append(
            events: list[StoredEvent], streams: list[str], runs: int, points: int
        ) -> None:
            nonlocal done, appended
            await self.append(events, streams)
            done, appended = done + runs, appended + points
            if progress is not None:
                progress(done, total, appended)

        try:
            size = BatchSize(self.options.batch_runs)
            async for batch in self.source.runs(experiment_ids, size):
                before = self.tally.points
                events, new_streams = await self.batch(batch, mapping, parents)
                points = self.tally.points - before
                # Long histories make smaller batches: memory stays bounded.
                per_run = max(points // len(batch), 1)
                size.runs = max(1, min(self.options.batch_runs, POINT_BUDGET // per_run))
                if appending is not None:
                    await appending
                appending = asyncio.create_task(append(events, new_streams, len(batch), points))
            if appending is not None:
                await appending
        finally:
            if appending is not None and not appending.done():
                appending.cancel()

    def _admit(self, run: SourceRun, held: HeldRun | None, experiment: str) -> bool:
        if held is None:
            return True
        if held.marker is None or held.experiment_id != experiment:
            where = "was not imported" if held.marker is None else "is in another experiment"
            self.tally.clashes.append(f"run {run.run_id}: it exists here and {where}")
            return False
        return True

    async def batch(
        self, batch: list[SourceRun], mapping: dict[str, str], parents: dict[str, str]
    ) -> tuple[list[StoredEvent], list[str]]:
        """The events that bring ``batch`` in, and the streams they must start."""
        ids = [run.run_id for run in batch]
        held = await self.target.runs(ids)
        purged = await self.target.purged_runs(ids)
        works: list[RunWork] = []
        for run in batch:
            experiment = mapping[run.experiment_id]
            if run.run_id in purged:
                self.tally.runs_skipped += 1  # purged here: gone for good
                continue
            here = held.get(run.run_id)
            if not self._admit(run, here, experiment):
                continue
            if here is not None:
                uri = here.artifact_uri
            else:
                uri, _ = self.destination(
                    run.artifact_uri, f"{ROOT}{experiment}/{run.run_id}/artifacts"
                )
            works.append(RunWork(run, experiment, uri, here))
        await self._read_points(works)
        await asyncio.gather(*(self._copy_run(w) for w in works))
        events: list[StoredEvent] = []
        new_streams = []
        for work in works:
            self.moved.add(work.run.artifact_uri, work.artifact_uri)
            if work.held is None:
                changes = new_run_events(work, parents, self.imp)
                new_streams.append(e.run_stream(work.run.run_id))
                self.tally.runs_created += 1
                self.tally.params += len(work.run.params)
                self.tally.tags += len(work.run.tags)
                self.tally.datasets += len(work.run.datasets)
            else:
                changes = run_update_events(work, self.imp, self.tally)
                if changes:
                    self.tally.runs_updated += 1
                else:
                    self.tally.runs_unchanged += 1
            self.tally.points += len(work.points)
            self._check_retention(work.run)
            events.extend(changes)
        return events, new_streams

    # -- the model registry ----------------------------------------------------------

    async def registry(self) -> None:
        plan = plan_registry(
            await self.source.registry(), await self.target.registry(), self.imp, self.moved
        )
        self.tally.clashes.extend(plan.clashes)
        self.tally.registered_models_created += plan.created
        self.tally.registered_models_updated += plan.updated
        await self.append(plan.events, plan.new_streams)

    def _check_retention(self, run: SourceRun) -> None:
        if run.lifecycle_stage == "deleted" and run.deleted_time is not None:
            if run.deleted_time < self.imp.imported_at - self.options.retention_ms:
                self.tally.deleted_past_retention += 1

    async def _read_points(self, works: list[RunWork]) -> None:
        updates = [w for w in works if w.held is not None]
        counted = None
        if updates:
            counted = await self.source.metric_counts([w.run.run_id for w in updates])
        counts: dict[str, dict[str, int]] = {}
        for (run_id, key), n in (counted or {}).items():
            counts.setdefault(run_id, {})[key] = n
        wanted: dict[str, list[str] | None] = {}
        for work in works:
            if work.held is None:
                wanted[work.run.run_id] = None  # every point
                continue
            run_counts = None if counted is None else counts.get(work.run.run_id, {})
            if read := series_to_read(work.run, work.held, run_counts):
                wanted[work.run.run_id] = read
        histories = await self.source.histories(wanted)
        for work in works:
            points = histories.get(work.run.run_id, [])
            keys = wanted.get(work.run.run_id)
            if work.held is not None and points and keys:
                held = await self.target.history(work.run.run_id, keys)
                points = new_points(points, held)
            work.points = points

    async def _copy_run(self, work: RunWork) -> None:
        path = trackledger_path(work.artifact_uri) if self.imp.copy_artifacts else None
        if path is None:
            return
        reader = self.source.artifacts(work.run.artifact_uri)
        if reader is None:
            return
        copied = await self.copy(reader, path)
        if copied is None:
            if work.held is None:  # unreadable: a new run references its files in place
                work.artifact_uri = self.source.reference(work.run.artifact_uri)
            return
        for relative, size, sha256 in copied:
            work.files.append(
                e.RunArtifactLogged(run_id=work.run.run_id, path=relative, size=size, sha256=sha256)
            )


def _renumbered(plan: ExperimentPlan) -> str:
    x = plan.source
    return (
        f"experiment {x.experiment_id} {x.name!r} is experiment {plan.target_id} here "
        f"(id {x.experiment_id} was taken)"
    )


async def import_mlflow(
    backend: Backend,
    source: Source,
    options: ImportOptions,
    *,
    artifacts: ArtifactStore | None,
    now: int,
    progress: Progress | None = None,
) -> Tally:
    """Bring what ``source`` holds (and trackledger lacks) into ``backend``; with
    ``options.dry_run``, only count it. ``artifacts`` is trackledger's artifact store
    (files are copied there unless ``options.copy_artifacts`` is off)."""
    importer = _Importer(backend, source, options, artifacts, now)
    mapping = await importer.experiments()
    await importer.models(mapping)
    await importer.runs(mapping, progress)
    if options.experiments:
        importer.tally.warnings.append(
            "the model registry is imported only with every experiment (no --experiment)"
        )
    else:
        await importer.registry()
    if importer.uncopied:
        importer.tally.warnings.append(
            f"{importer.uncopied} artifact locations could not be read from here and are "
            "referenced where they are (give --source-artifacts for mlflow-artifacts: URIs "
            "of a database)"
        )
    return importer.tally
