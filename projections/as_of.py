"""Answers as of a past moment, from the same projection code as the live tables.

The events that decide an answer, up to the moment, are applied by ``SQLiteProjector`` to
the projection tables (``projection_ddl``) of a private in-memory SQLite database, and the
answer is read back by ``SqlReadModel``: the code that applies and reads the live tables
on either backend. There is no second set of projection rules to keep in step, and a new
kind of row shows up in as-of answers as soon as it shows up in live ones.

For a run, the events that decide its answer are its own stream and the streams it
depends on: its experiment and the logged models it took as inputs or produced.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from trackledger.eventlog import events as e
from trackledger.eventlog.store import EventStore, StoredEvent
from trackledger.projections.schema import projection_ddl
from trackledger.projections.sql_reads import SqlReadModel
from trackledger.projections.sqlite_apply import SQLiteProjector
from trackledger.projections.views import RunView

__all__ = ["Moment", "Replay", "run_as_of"]

_PAGE = 10_000


class Moment(msgspec.Struct, frozen=True):
    """A point in the log: every event at or before a ``position``, or recorded at or
    before a ``time`` (ms since the epoch)."""

    position: int | None = None
    time: int | None = None

    def holds(self, stored: StoredEvent) -> bool:
        if self.position is not None:
            return stored.position <= self.position
        return self.time is None or stored.recorded_at <= self.time


class Replay:
    """A read model of its own: events applied to in-memory projection tables.

    The connection is used by one thread at a time (each call is awaited); applying and
    reading run off the event loop's thread.
    """

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        for ddl in projection_ddl("sqlite"):
            self._conn.execute(ddl)
        self._projector = SQLiteProjector()
        self.reads = SqlReadModel(self._fetchall, "sqlite")

    def _apply(self, events: Sequence[StoredEvent]) -> None:
        self._conn.execute("BEGIN")
        self._projector.apply_many(self._conn, [(s.event, s.position) for s in events])
        self._conn.execute("COMMIT")

    async def apply(self, events: Sequence[StoredEvent]) -> None:
        if events:
            await asyncio.to_thread(self._apply, events)

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        def fetch() -> list[tuple[Any, ...]]:
            return list(self._conn.execute(sql, tuple(params)).fetchall())

        return await asyncio.to_thread(fetch)

    def close(self) -> None:
        self._conn.close()


async def _replay_stream(
    store: EventStore, replay: Replay, stream: str, moment: Moment
) -> list[StoredEvent]:
    """Apply ``stream``'s events up to ``moment``, a page at a time; return the ones that
    tell which other streams matter (creations, inputs, outputs)."""
    telling: list[StoredEvent] = []
    after = 0
    while True:
        page = await store.read_stream(stream, after=after, limit=_PAGE)
        kept = [s for s in page if moment.holds(s)]
        await replay.apply(kept)
        telling.extend(
            s
            for s in kept
            if isinstance(s.event, (e.RunCreated, e.InputsLogged, e.RunOutputsLogged))
        )
        if len(page) < _PAGE:
            return telling
        after = page[-1].position


def _dependencies(events: Iterable[StoredEvent]) -> list[str]:
    """The experiment and logged-model streams a run's events refer to."""
    streams: set[str] = set()
    for stored in events:
        event = stored.event
        if isinstance(event, e.RunCreated):
            streams.add(e.experiment_stream(event.experiment_id))
        elif isinstance(event, e.InputsLogged):
            streams.update(e.model_stream(m) for m in event.model_ids)
        elif isinstance(event, e.RunOutputsLogged):
            streams.update(e.model_stream(m.model_id) for m in event.models)
    return sorted(streams)


async def run_as_of(store: EventStore, run_id: str, moment: Moment) -> RunView | None:
    """The run as ``runs/get`` answered at ``moment``; None if it did not exist then (or
    was purged by then)."""
    replay = Replay()
    try:
        telling = await _replay_stream(store, replay, e.run_stream(run_id), moment)
        for stream in _dependencies(telling):
            await _replay_stream(store, replay, stream, moment)
        return await replay.reads.get_run(run_id)
    finally:
        replay.close()
