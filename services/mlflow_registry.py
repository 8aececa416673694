"""Turn an MLflow source's model registry into trackledger events (see ``mlflow_plan.py``
for what every imported object gets: original times, a marker, three-way re-imports).

MLflow names a registered model by its name, so the name is what an import matches on: a
model imported before (found by its marker), else a model here with that name and a marker
from another source (the same MLflow read another way). A model here with that name that
was never imported is a clash. A new model keeps its version numbers, stages, aliases and
tags; its versions' files are wherever the imported runs and logged models put theirs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from trackledger.eventlog import registry_events as r
from trackledger.eventlog.store import StoredEvent
from trackledger.services.mlflow_plan import Import, as_tags, stored, tag_changes, tag_dict
from trackledger.services.mlflow_source import SourceRegisteredModel, SourceVersion
from trackledger.services.mlflow_target import HeldRegisteredModel

__all__ = ["RegistryPlan", "UriMap", "plan_registry"]

NONE_STAGE = "None"
DELETED_STAGE = "Deleted_Internal"


class UriMap:
    """Where the source's artifact locations went: a location under one of them moves with
    it (a version's files sit under the logged model or run they were logged with)."""

    def __init__(self) -> None:
        self._moved: dict[str, str] = {}

    def add(self, source: str, target: str) -> None:
        if source and source != target:
            self._moved[source.rstrip("/")] = target.rstrip("/")

    def __call__(self, uri: str) -> str:
        head, tail = uri.rstrip("/"), ""
        while head:
            if head in self._moved:
                return self._moved[head] + tail
            cut = head.rfind("/")
            if cut <= 0:
                return uri
            head, tail = head[:cut], head[cut:] + tail
        return uri


@dataclass
class RegistryPlan:
    events: list[StoredEvent] = field(default_factory=list)
    new_streams: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    clashes: list[str] = field(default_factory=list)


def _marker(m: SourceRegisteredModel, model_id: str, imp: Import) -> StoredEvent:
    marker = r.RegisteredModelImported(
        registered_model_id=model_id,
        source=imp.source,
        source_id=m.name,
        imported_at=imp.imported_at,
        name=m.name,
        description=m.description,
        last_updated_time=m.last_updated_time,
        tags=as_tags(m.tags),
        aliases=[r.SeenAlias(a, v) for a, v in sorted(m.aliases.items())],
        versions=[
            r.SeenVersion(
                version=v.version,
                stage=v.stage,
                last_updated_time=v.last_updated_time,
                description=v.description,
                tags=as_tags(v.tags),
            )
            for v in m.versions
            if not v.deleted
        ],
    )
    return stored(marker, m.creation_time, imp.importer, imp.imported_at)


def _version(
    m: SourceRegisteredModel, v: SourceVersion, model_id: str, imp: Import, moved: UriMap
) -> Iterator[StoredEvent]:
    now, actor = imp.imported_at, v.user_id
    updated = v.last_updated_time if v.last_updated_time is not None else now
    created = r.ModelVersionCreated(
        registered_model_id=model_id,
        version=v.version,
        time=v.creation_time if v.creation_time is not None else now,
        name=m.name,
        source=v.source,
        storage_location=moved(v.storage_location or v.source),
        run_id=v.run_id or "",
        run_link=v.run_link or "",
        description=v.description or "",
        tags=as_tags(v.tags),
    )
    yield stored(created, v.creation_time, actor, now)
    if v.stage not in (NONE_STAGE, DELETED_STAGE):
        staged = r.ModelVersionStageChanged(
            registered_model_id=model_id,
            version=v.version,
            stage=v.stage,
            previous_stage=NONE_STAGE,
            time=updated,
        )
        yield stored(staged, updated, actor, now)
    if v.deleted:
        deleted = r.ModelVersionDeleted(
            registered_model_id=model_id, version=v.version, time=updated
        )
        yield stored(deleted, updated, actor, now)


def _new_model(m: SourceRegisteredModel, imp: Import, moved: UriMap) -> list[StoredEvent]:
    model_id, now = uuid.uuid4().hex, imp.imported_at
    updated = m.last_updated_time if m.last_updated_time is not None else now
    created = r.RegisteredModelCreated(
        registered_model_id=model_id,
        name=m.name,
        time=m.creation_time if m.creation_time is not None else now,
        description=m.description,
        tags=as_tags(m.tags),
    )
    out = [_marker(m, model_id, imp), stored(created, m.creation_time, None, now)]
    for v in m.versions:
        out.extend(_version(m, v, model_id, imp, moved))
    for alias, version in sorted(m.aliases.items()):
        aliased = r.AliasSet(registered_model_id=model_id, alias=alias, version=version)
        out.append(stored(aliased, updated, None, now))
    return out


def _version_changes(
    m: SourceRegisteredModel, held: HeldRegisteredModel, imp: Import, moved: UriMap
) -> Iterator[StoredEvent]:
    rid, now = held.registered_model_id, imp.imported_at
    base = held.marker
    seen = {v.version: v for v in base.versions} if base else {}
    for v in m.versions:
        here = held.versions.get(v.version)
        if v.deleted:
            continue
        if here is None:
            if v.version not in seen:  # new in MLflow (one seen before was removed here)
                yield from _version(m, v, rid, imp, moved)
            continue
        if here.stage == DELETED_STAGE:
            continue  # deleted here: it stays deleted
        was = seen.get(v.version)
        when = v.last_updated_time if v.last_updated_time is not None else now
        if v.stage != (was.stage if was else here.stage) and v.stage != here.stage:
            staged = r.ModelVersionStageChanged(
                registered_model_id=rid,
                version=v.version,
                stage=v.stage,
                previous_stage=here.stage,
                time=when,
            )
            yield stored(staged, when, v.user_id, now)
        described = v.description or ""
        if described != ((was.description or "") if was else here.description) and (
            described != (here.description or "")
        ):
            update = r.ModelVersionUpdated(
                registered_model_id=rid, version=v.version, description=described, time=when
            )
            yield stored(update, when, v.user_id, now)
        to_set, gone = tag_changes(v.tags, tag_dict(was.tags) if was else None, here.tags)
        for key, value in sorted(to_set.items()):
            tagged = r.ModelVersionTagSet(
                registered_model_id=rid, version=v.version, key=key, value=value
            )
            yield stored(tagged, now, None, now)
        for key in gone:
            untagged = r.ModelVersionTagDeleted(registered_model_id=rid, version=v.version, key=key)
            yield stored(untagged, now, None, now)
    live = {v.version for v in m.versions if not v.deleted}
    for number in sorted(set(seen) - live):
        here = held.versions.get(number)
        if here is not None and here.stage != DELETED_STAGE:
            aliases = sorted(a for a, n in held.aliases.items() if n == number)
            deleted = r.ModelVersionDeleted(
                registered_model_id=rid, version=number, time=now, aliases=aliases
            )
            yield stored(deleted, now, None, now)


def _model_changes(
    m: SourceRegisteredModel, held: HeldRegisteredModel, imp: Import, moved: UriMap
) -> list[StoredEvent]:
    rid, now, base = held.registered_model_id, imp.imported_at, held.marker
    when = m.last_updated_time if m.last_updated_time is not None else now
    out: list[StoredEvent] = []
    if m.description != (base.description if base else held.description) and (
        m.description != held.description
    ):
        update = r.RegisteredModelUpdated(
            registered_model_id=rid, description=m.description, time=when
        )
        out.append(stored(update, when, None, now))
    to_set, gone = tag_changes(m.tags, tag_dict(base.tags) if base else None, held.tags)
    out.extend(
        stored(r.RegisteredModelTagSet(registered_model_id=rid, key=k, value=v), now, None, now)
        for k, v in sorted(to_set.items())
    )
    out.extend(
        stored(r.RegisteredModelTagDeleted(registered_model_id=rid, key=k), now, None, now)
        for k in gone
    )
    out.extend(_version_changes(m, held, imp, moved))
    seen = {a.alias: a.version for a in base.aliases} if base else None
    for alias, version in sorted(m.aliases.items()):
        if (seen is None or seen.get(alias) != version) and held.aliases.get(alias) != version:
            aliased = r.AliasSet(
                registered_model_id=rid,
                alias=alias,
                version=version,
                previous_version=held.aliases.get(alias),
            )
            out.append(stored(aliased, when, None, now))
    for alias in sorted(set(seen or {}) - set(m.aliases)):
        if alias in held.aliases:
            dropped = r.AliasDeleted(
                registered_model_id=rid, alias=alias, previous_version=held.aliases[alias]
            )
            out.append(stored(dropped, now, None, now))
    if not out and base is not None and _seen(base) == _seen(_marker(m, rid, imp).event):  # type: ignore[arg-type]
        return []
    return [_marker(m, rid, imp), *out]


def _seen(marker: r.RegisteredModelImported) -> tuple[object, ...]:
    return (
        marker.name,
        marker.description,
        marker.last_updated_time,
        marker.tags,
        marker.aliases,
        marker.versions,
    )


def plan_registry(
    models: list[SourceRegisteredModel],
    held: list[HeldRegisteredModel],
    imp: Import,
    moved: UriMap,
) -> RegistryPlan:
    """The events that bring the source's registry in (see the module's docstring)."""
    plan = RegistryPlan()
    mine = {h.marker.source_id: h for h in held if h.marker and h.marker.source == imp.source}
    live = {h.name: h for h in held if not h.deleted}
    for m in models:
        here = mine.get(m.name)
        if here is None and m.name in live and live[m.name].marker is not None:
            here = live[m.name]
        if here is None and m.name in live:
            plan.clashes.append(f"registered model {m.name!r}: it exists here and was not imported")
            continue
        if here is None:
            events = _new_model(m, imp, moved)
            plan.created += 1
            plan.new_streams.append(events[0].stream_id)
        elif here.deleted:
            continue  # deleted here since: it stays deleted
        else:
            events = _model_changes(m, here, imp, moved)
            plan.updated += bool(events)
        plan.events.extend(events)
    names = {m.name for m in models}
    for name, here in sorted(mine.items()):
        if name not in names and not here.deleted:  # deleted in MLflow since the last import
            gone = r.RegisteredModelDeleted(
                registered_model_id=here.registered_model_id, name=here.name, time=imp.imported_at
            )
            plan.events.append(stored(gone, imp.imported_at, None, imp.imported_at))
            plan.updated += 1
    return plan
