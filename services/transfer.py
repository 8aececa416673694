"""Move a log between servers and backends: newline-delimited, versioned, streamed.

The first line is a header ``{"format": "trackledger-log", "version": 1, ...}``; each
further line is one event with its stream, type, time, actor and idempotency key, and the
event itself as base64 msgpack (lossless: JSON would turn NaN metric values into null).
Reading and writing go in pages, so memory stays flat whatever the size of the log. An
export reads one consistent snapshot in position order, so an import (which appends in
file order) gives every last-writer-wins field the winner it had.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from typing import IO

import orjson

from trackledger.eventlog import events as e
from trackledger.eventlog.store import StoredEvent
from trackledger.eventlog.trace_events import SpansLogged, TraceInfoLogged
from trackledger.services.backends import Backend

__all__ = ["FORMAT", "VERSION", "export_log", "import_log"]

FORMAT = "trackledger-log"
VERSION = 1
PAGE = 5000

Progress = Callable[[int], None]


def _line(stored: StoredEvent) -> bytes:
    return (
        orjson.dumps(
            {
                "position": stored.position,
                "stream_id": stored.stream_id,
                # The event's own tag: an old event is written upcast, in the current shape.
                "type": stored.event.__struct_config__.tag,
                "recorded_at": stored.recorded_at,
                "actor": stored.actor,
                "idempotency_key": stored.idempotency_key,
                "payload": base64.b64encode(e.encode_event(stored.event)).decode(),
            }
        )
        + b"\n"
    )


class _Selection:
    """Which events an export of some experiments keeps: the experiments' own streams and
    the streams of the runs, logged models and traces created in them. A run or model is
    created before anything else is logged to it, and a trace by its info or its spans, so
    position order meets its creation first."""

    def __init__(self, experiments: list[str]) -> None:
        self._experiments = set(experiments)
        self._streams = {e.experiment_stream(x) for x in experiments}

    def __call__(self, stored: StoredEvent) -> bool:
        event = stored.event
        if (
            isinstance(event, (e.RunCreated, e.LoggedModelCreated, TraceInfoLogged, SpansLogged))
            and event.experiment_id in self._experiments
        ):
            self._streams.add(event.stream)
        return stored.stream_id in self._streams


async def export_log(
    backend: Backend,
    out: IO[bytes],
    experiments: list[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the log (or the events of ``experiments``, their runs, logged models and
    traces) to ``out``: one consistent snapshot, in position order, whatever is written
    meanwhile."""
    out.write(orjson.dumps({"format": FORMAT, "version": VERSION, "backend": backend.kind}) + b"\n")
    selected = _Selection(experiments) if experiments else None
    written = 0
    async with contextlib.aclosing(backend.store.read_snapshot(PAGE)) as pages:
        async for page in pages:
            for stored in page:
                if selected is None or selected(stored):
                    out.write(_line(stored))
                    written += 1
            if progress is not None:
                progress(written)
    return written


def _read(src: IO[bytes]) -> Iterator[StoredEvent]:
    header = orjson.loads(src.readline() or b"{}")
    if header.get("format") != FORMAT:
        raise ValueError("not a trackledger log export (no trackledger-log header)")
    if header.get("version") != VERSION:
        raise ValueError(f"unsupported export version {header.get('version')!r}")
    for number, line in enumerate(src, start=2):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            event = e.decode_event(base64.b64decode(row["payload"]))
        except Exception as exc:
            raise ValueError(f"line {number} is not a valid event: {exc}") from None
        yield StoredEvent(
            position=row["position"],
            stream_id=row["stream_id"],
            type=row["type"],
            recorded_at=row["recorded_at"],
            actor=row["actor"],
            idempotency_key=row["idempotency_key"],
            event=event,
        )


async def import_log(backend: Backend, src: IO[bytes], progress: Progress | None = None) -> int:
    """Append the events of an export to ``backend``'s log, projecting them as they come.

    Experiments the target already has (its Default experiment) are not created twice.
    """
    existing = await backend.reads.search_experiments(
        filter_text=None, order_by=[], view_type="ALL", max_results=50_000, offset=0
    )
    have = {getattr(x, "experiment_id", None) for x in existing.items}
    batch: list[StoredEvent] = []
    imported = 0
    for stored in _read(src):
        if isinstance(stored.event, e.ExperimentCreated) and stored.event.experiment_id in have:
            continue
        batch.append(stored)
        if len(batch) >= PAGE:
            imported += await backend.store.append_imported(batch)
            batch = []
            if progress is not None:
                progress(imported)
    if batch:
        imported += await backend.store.append_imported(batch)
    return imported
