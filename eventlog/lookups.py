"""What a decision may ask of the current state, and the shapes of the answers.

``decide`` functions are generators: they ``yield`` a lookup and receive its answer. Each
store answers lookups inside its append transaction (synchronously on SQLite's writer
thread, with ``await`` on PostgreSQL), so the business rules exist once for every backend.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

import msgspec

from trackledger.eventlog.auth_lookups import (
    Claim,
    GetAssignment,
    GetGrant,
    GetRole,
    GetRoleByName,
    GetRolePermission,
    GetRolePermissionFor,
    GetToken,
    GetUser,
    GetUserTokens,
    NextAuthId,
)
from trackledger.eventlog.events import Event
from trackledger.eventlog.registry_lookups import (
    GetAliases,
    GetLatestVersions,
    GetLoggedModelTags,
    GetModelVersion,
    GetModelVersionTags,
    GetRegisteredModel,
    GetRegisteredModelTags,
    GetVersionsInStage,
)
from trackledger.eventlog.trace_lookups import TraceLookup

__all__ = [
    "Ask",
    "Decision",
    "ExperimentState",
    "GetExperiment",
    "GetExperimentByName",
    "GetExperimentRuns",
    "GetExperimentTags",
    "GetParams",
    "GetRun",
    "GetRunTags",
    "Lookup",
    "NextExperimentId",
    "Outcome",
    "RunState",
]


class ExperimentState(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int | None = None
    last_update_time: int | None = None
    deleted_time: int | None = None


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    deleted_time: int | None = None


class GetExperiment(msgspec.Struct, frozen=True):
    """Answer: ``ExperimentState | None`` (deleted experiments included).

    ``lock`` says how the decision depends on the row until its transaction ends:
    ``share`` (it must not change) or ``update`` (the decision changes it). Stores with
    concurrent writers take that row lock; a single-writer store needs none.
    """

    experiment_id: str
    lock: str = "share"


class GetExperimentByName(msgspec.Struct, frozen=True):
    """Answer: ``ExperimentState | None``. With ``claim``, concurrent decisions about the
    same name are serialized (the name is about to be taken)."""

    name: str
    claim: bool = False


class NextExperimentId(msgspec.Struct, frozen=True):
    """Answer: ``str``, an id never handed out before."""


class GetExperimentTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the present tags among ``keys``."""

    experiment_id: str
    keys: list[str]


class GetExperimentRuns(msgspec.Struct, frozen=True):
    """Answer: ``list[str]`` of run ids of the experiment in ``lifecycle_stage``."""

    experiment_id: str
    lifecycle_stage: str


class GetRun(msgspec.Struct, frozen=True):
    """Answer: ``RunState | None``; ``lock`` as for ``GetExperiment``."""

    run_id: str
    lock: str = "share"


class GetParams(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the already logged params among ``keys``."""

    run_id: str
    keys: list[str]


class GetRunTags(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, str]`` of the present tags among ``keys``."""

    run_id: str
    keys: list[str]


class LoggedModelState(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    experiment_id: str
    name: str
    status: str
    lifecycle_stage: str
    artifact_location: str = ""
    source_run_id: str | None = None


class GetLoggedModel(msgspec.Struct, frozen=True):
    """Answer: ``LoggedModelState | None``."""

    model_id: str


class GetDescendants(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, every run below ``run_id`` (children, their children, ...)."""

    run_id: str


class GetChildren(msgspec.Struct, frozen=True):
    """Answer: ``dict[str, list[str]]``, the child runs of each of ``run_ids`` that has any."""

    run_ids: list[str]


class GetRunsDeletedWith(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, deleted runs whose delete came from ``cascade``."""

    cascade: str


class GetRunsStartedBefore(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, active runs of the experiment started at or before
    ``max_time``, oldest first, at most ``limit``."""

    experiment_id: str
    max_time: int
    limit: int


class GetRunsDeletedSince(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, deleted runs of the experiment deleted at or after
    ``min_time``, earliest deleted first, at most ``limit``."""

    experiment_id: str
    min_time: int
    limit: int


class GetPurgedRun(msgspec.Struct, frozen=True):
    """Answer: ``int | None``, when the run was purged."""

    run_id: str


class GetExpired(msgspec.Struct, frozen=True):
    """Answer: ``list[str]``, runs (or experiments, with ``experiments``) deleted at or
    before ``cutoff``, at most ``limit``."""

    cutoff: int
    limit: int
    experiments: bool = False


class CountStreamEvents(msgspec.Struct, frozen=True):
    """Answer: ``int``."""

    stream_id: str


Lookup = (
    GetExperiment
    | GetExperimentByName
    | NextExperimentId
    | GetExperimentTags
    | GetExperimentRuns
    | GetRun
    | GetParams
    | GetRunTags
    | GetDescendants
    | GetChildren
    | GetRunsDeletedWith
    | GetRunsStartedBefore
    | GetRunsDeletedSince
    | GetPurgedRun
    | GetExpired
    | CountStreamEvents
    | GetLoggedModel
    | Claim
    | GetUser
    | NextAuthId
    | GetUserTokens
    | GetToken
    | GetRole
    | GetRoleByName
    | GetRolePermission
    | GetRolePermissionFor
    | GetAssignment
    | GetGrant
    | TraceLookup
    | GetRegisteredModel
    | GetModelVersion
    | GetVersionsInStage
    | GetLatestVersions
    | GetAliases
    | GetRegisteredModelTags
    | GetModelVersionTags
    | GetLoggedModelTags
)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What an accepted command produced: its events and the answer for the caller."""

    events: list[Event]
    result: Any = None


T = TypeVar("T")

#: A generator that yields lookups, receives their answers and returns a T.
Ask = Generator[Lookup, Any, T]

#: A decision asks what it needs and returns the Outcome of the command.
Decision = Ask[Outcome]
