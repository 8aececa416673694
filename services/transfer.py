"""Move a log between servers and backends: newline-delimited, versioned, streamed.

The first line is a header ``{"format": "trackledger-log", "version": 1, ...}``; each
further line is one event with its stream, type, time, actor and idempotency key, and the
event itself as base64 msgpack (lossless: JSON would turn NaN metric values into null).
Reading and writing go in pages, so memory stays flat whatever the size of the log.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import IO

import orjson

from trackledger.eventlog import events as e
from trackledger.eventlog.store import StoredEvent
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
                "type": stored.type,
                "recorded_at": stored.recorded_at,
                "actor": stored.actor,
                "idempotency_key": stored.idempotency_key,
                "payload": base64.b64encode(e.encode_event(stored.event)).decode(),
            }
        )
        + b"\n"
    )


def _selected(stored: StoredEvent, experiments: set[str], runs: set[str], traces: set[str]) -> bool:
    event = stored.event
    if isinstance(event, e.RunCreated) and event.experiment_id in experiments:
        runs.add(event.run_id)
    trace_id = getattr(event, "trace_id", None)
    if trace_id is not None:
        # A trace goes with the experiment its info or its first spans named.
        if getattr(event, "experiment_id", None) in experiments:
            traces.add(trace_id)
        return trace_id in traces
    run_id = getattr(event, "run_id", None)
    if run_id is not None:
        return run_id in runs
    return getattr(event, "experiment_id", None) in experiments


async def export_log(
    backend: Backend,
    out: IO[bytes],
    experiments: list[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the log (or the events of ``experiments``, their runs and traces) to ``out``."""
    out.write(orjson.dumps({"format": FORMAT, "version": VERSION, "backend": backend.kind}) + b"\n")
    wanted = set(experiments or [])
    runs: set[str] = set()
    traces: set[str] = set()
    cursor, written = None, 0
    while True:
        page = await backend.store.read_all(after=cursor, limit=PAGE)
        if not page:
            return written
        for stored in page:
            if not wanted or _selected(stored, wanted, runs, traces):
                out.write(_line(stored))
                written += 1
        cursor = page[-1].cursor
        if progress is not None:
            progress(written)


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
