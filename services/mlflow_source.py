"""What an MLflow tracking store holds, in the shapes the import reads it in: the same for
every kind of source (a tracking server's REST API, the database of an SQL store).

A source reads in bulk: experiments at once, runs in batches with everything but their
metric histories, then the histories of a batch's runs in one go.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec

from trackledger.eventlog.events import DatasetInput, ModelOutput

__all__ = [
    "ArtifactReader",
    "BatchSize",
    "Point",
    "Source",
    "SourceExperiment",
    "SourceModel",
    "SourceRegisteredModel",
    "SourceRun",
    "SourceUnavailable",
    "SourceVersion",
    "describe_source",
]

#: One metric point as MLflow stores it: key, value (0 for NaN), timestamp, step, is_nan.
Point = tuple[str, float, int, int, int]
#: A series' latest point: step, timestamp, value.
Latest = tuple[int, int, float]


class BatchSize:
    """How many runs the next batch of ``Source.runs`` holds (the importer makes batches
    of runs with long histories smaller)."""

    def __init__(self, runs: int) -> None:
        self.runs = runs


class SourceUnavailable(Exception):
    """The source cannot be read (unreachable, refused, not an MLflow store)."""


class SourceExperiment(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str]


class SourceRun(msgspec.Struct, kw_only=True):
    run_id: str
    experiment_id: str
    name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    #: When the run was deleted; None when the source does not say (the REST API never does).
    deleted_time: int | None
    artifact_uri: str
    tags: dict[str, str]
    params: dict[str, str]
    datasets: list[DatasetInput]
    model_inputs: list[str]
    outputs: list[ModelOutput]
    #: Each metric's latest point, as the source's run pages show it.
    latest: dict[str, Latest]


class SourceModel(msgspec.Struct, frozen=True, kw_only=True):
    """A logged model (MLflow 3); ``status`` is LOGGED_MODEL_PENDING, _READY or
    _UPLOAD_FAILED."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int | None
    last_updated_time: int | None
    status: str
    lifecycle_stage: str
    model_type: str | None
    source_run_id: str | None
    tags: dict[str, str]
    params: dict[str, str]


class SourceVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A registered model's version; ``deleted`` ones are MLflow's ``Deleted_Internal``."""

    version: int
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    user_id: str | None
    stage: str
    source: str
    #: Where the files are (MLflow resolves a ``models:/`` source to it).
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    tags: dict[str, str]
    deleted: bool = False


class SourceRegisteredModel(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    versions: list[SourceVersion]


class ArtifactReader(Protocol):
    """The files under one artifact location of the source."""

    #: Where the files are read from, for messages.
    where: str

    async def files(self) -> list[tuple[str, int]]:
        """Every file under the location (recursively): its relative path and size."""
        ...

    def read(self, path: str) -> AsyncIterator[bytes]:
        """The bytes of the file at ``path`` (relative to the location), in chunks."""
        ...


class Source(Protocol):
    #: The source as the import markers name it: its URI without credentials.
    label: str
    #: "server" or "database".
    kind: str

    async def experiments(self) -> list[SourceExperiment]: ...

    async def parents(self) -> dict[str, str]:
        """Every run's parent run id (the ``mlflow.parentRunId`` tag), for nested runs."""
        ...

    def runs(self, experiment_ids: list[str], size: BatchSize) -> AsyncIterator[list[SourceRun]]:
        """The runs of these experiments (deleted ones too), in batches of ``size.runs``
        (read before each batch), without their metric histories."""
        ...

    async def count_runs(self, experiment_ids: list[str]) -> int | None:
        """How many runs ``runs`` will yield, if the source can tell cheaply."""
        ...

    async def metric_counts(self, run_ids: list[str]) -> dict[tuple[str, str], int] | None:
        """Points per (run, key), or None when the source cannot count them."""
        ...

    async def histories(self, wanted: dict[str, list[str] | None]) -> dict[str, list[Point]]:
        """The points of these (run: keys) series; None: every key of the run."""
        ...

    async def logged_models(self, experiment_ids: list[str]) -> list[SourceModel]: ...

    async def registry(self) -> list[SourceRegisteredModel]:
        """Every registered model (prompts included) with its versions."""
        ...

    def artifacts(self, uri: str) -> ArtifactReader | None:
        """Where the files under the artifact ``uri`` can be read, or None if this import
        cannot reach them (a cloud store, a server's ``mlflow-artifacts:`` without it)."""
        ...

    def reference(self, uri: str) -> str:
        """``uri`` as a URI the mlflow client can read from wherever it runs, for files
        left in place (``mlflow-artifacts:`` would mean trackledger's own store)."""
        ...

    async def close(self) -> None: ...


def describe_source(uri: str) -> str:
    """``uri`` without its password or credentials (what markers and messages show)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username and parts.scheme.startswith("postgres") else ""
    return urllib.parse.urlunsplit((parts.scheme, user + host, parts.path, parts.query, ""))
