"""The read model of traces: their info, spans and assessments, and searches.

Like ``sql_reads.py``, one implementation over a ``FetchAll`` port for every backend, with
a constant number of queries per call whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import msgspec

from trackledger.eventlog.trace_events import AssessmentRecord, SpanRecord
from trackledger.projections.search import SqlBuilder
from trackledger.projections.search.traces import (
    compile_trace_count,
    compile_trace_search,
    indexed_only,
    parse_trace_filter,
)
from trackledger.projections.sql_reads import FetchAll

__all__ = ["AssessmentView", "TraceInfoView", "TracePage", "TraceReads"]

_CHUNK = 5000
#: Traces a newest-first filtered search looks at before searching everything.
_WINDOW = 2000
_spans = msgspec.json.Decoder(SpanRecord)
_record = msgspec.json.Decoder(AssessmentRecord)


class AssessmentView(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    record: AssessmentRecord
    #: False when another live assessment overrides it, or it was created invalid.
    valid: bool


class TraceInfoView(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    experiment_id: str
    request_time: int
    execution_duration: int | None
    state: str
    client_request_id: str | None
    request_preview: str | None
    response_preview: str | None
    stage: str
    deleted_time: int | None
    root_name: str | None
    metadata: dict[str, str]
    tags: dict[str, str]
    assessments: list[AssessmentView]
    run_ids: list[str]


class TracePage(msgspec.Struct, frozen=True):
    items: list[TraceInfoView]
    next_offset: int | None


def _marks(n: int) -> str:
    return ",".join("?" * n)


_INFO = (
    "SELECT trace_id, experiment_id, timestamp_ms, execution_time_ms, state, "
    "client_request_id, COALESCE(request_preview, root_request), "
    "COALESCE(response_preview, root_response), stage, deleted_time, root_name "
    "FROM traces WHERE experiment_id IS NOT NULL AND trace_id IN ({marks})"
)
_ASSESSMENTS = (
    "SELECT a.trace_id, a.record, NOT EXISTS (SELECT 1 FROM trace_assessments o "
    "WHERE o.trace_id = a.trace_id AND o.overrides = a.assessment_id AND o.deleted_pos = 0 "
    "AND o.record IS NOT NULL) FROM trace_assessments a WHERE a.trace_id IN ({marks}) "
    "AND a.deleted_pos = 0 AND a.record IS NOT NULL"
)


class TraceReads:
    def __init__(self, fetchall: FetchAll, dialect: str) -> None:
        self._fetchall = fetchall
        self._dialect = dialect

    async def _pairs(self, table: str, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = defaultdict(dict)
        for trace_id, key, value in await self._fetchall(
            f"SELECT trace_id, key, value FROM {table} WHERE trace_id IN ({_marks(len(ids))}) "
            "AND value IS NOT NULL ORDER BY trace_id, key",
            ids,
        ):
            out[trace_id][key] = value
        return out

    async def _assessments(self, ids: Sequence[str]) -> dict[str, list[AssessmentView]]:
        out: dict[str, list[AssessmentView]] = defaultdict(list)
        for trace_id, record, not_overridden in await self._fetchall(
            _ASSESSMENTS.format(marks=_marks(len(ids))), ids
        ):
            decoded = _record.decode(record)
            valid = bool(not_overridden) and decoded.valid
            out[trace_id].append(AssessmentView(trace_id=trace_id, record=decoded, valid=valid))
        for views in out.values():
            views.sort(key=lambda a: (a.record.create_time, a.record.assessment_id))
        return out

    async def infos(
        self, trace_ids: Sequence[str], *, deleted: bool = False
    ) -> list[TraceInfoView]:
        """The traces with these ids, in that order; deleted ones only if ``deleted``."""
        views: list[TraceInfoView] = []
        for start in range(0, len(trace_ids), _CHUNK):
            views.extend(await self._info_chunk(list(trace_ids[start : start + _CHUNK]), deleted))
        return views

    async def _info_chunk(self, ids: list[str], deleted: bool) -> list[TraceInfoView]:
        if not ids:
            return []
        rows = await self._fetchall(_INFO.format(marks=_marks(len(ids))), ids)
        if not deleted:
            rows = [row for row in rows if row[8] == "active"]
        if not rows:
            return []
        found = [row[0] for row in rows]
        tags = await self._pairs("trace_tags", found)
        metadata = await self._pairs("trace_metadata", found)
        assessments = await self._assessments(found)
        links: dict[str, list[str]] = defaultdict(list)
        for trace_id, run_id in await self._fetchall(
            f"SELECT trace_id, run_id FROM trace_run_links WHERE trace_id IN "
            f"({_marks(len(found))}) ORDER BY trace_id, run_id",
            found,
        ):
            links[trace_id].append(run_id)
        by_id = {
            row[0]: TraceInfoView(
                trace_id=row[0],
                experiment_id=str(row[1]),
                request_time=row[2] or 0,
                execution_duration=row[3],
                state=row[4],
                client_request_id=row[5],
                request_preview=row[6],
                response_preview=row[7],
                stage=row[8],
                deleted_time=row[9],
                root_name=row[10],
                metadata=metadata.get(row[0], {}),
                tags=tags.get(row[0], {}),
                assessments=assessments.get(row[0], []),
                run_ids=links.get(row[0], []),
            )
            for row in rows
        }
        return [by_id[t] for t in ids if t in by_id]

    async def info(self, trace_id: str) -> TraceInfoView | None:
        found = await self.infos([trace_id])
        return found[0] if found else None

    async def spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanRecord]]:
        """Each trace's spans: the root first, then by start time."""
        out: dict[str, list[SpanRecord]] = defaultdict(list)
        if not trace_ids:
            return out
        for trace_id, content in await self._fetchall(
            f"SELECT trace_id, content FROM trace_spans WHERE trace_id IN "
            f"({_marks(len(trace_ids))}) ORDER BY trace_id, "
            "CASE WHEN parent_span_id IS NULL THEN 0 ELSE 1 END, start_ns, span_id",
            list(trace_ids),
        ):
            out[trace_id].append(_spans.decode(content))
        return out

    async def span_counts(self, trace_ids: Sequence[str]) -> dict[str, int]:
        if not trace_ids:
            return {}
        rows = await self._fetchall(
            f"SELECT trace_id, COUNT(*) FROM trace_spans WHERE trace_id IN "
            f"({_marks(len(trace_ids))}) GROUP BY trace_id",
            list(trace_ids),
        )
        return {row[0]: int(row[1]) for row in rows}

    async def assessment(self, trace_id: str, assessment_id: str) -> AssessmentView | None:
        info = await self.info(trace_id)
        if info is None:
            return None
        return next((a for a in info.assessments if a.record.assessment_id == assessment_id), None)

    async def search(
        self,
        *,
        experiment_ids: list[int],
        filter_text: str | None,
        order_by: list[str],
        max_results: int,
        offset: int,
    ) -> TracePage:
        """A page of active traces; ``next_offset`` is set when another trace follows."""
        expr = parse_trace_filter(filter_text)
        if not experiment_ids:
            return TracePage([], None)

        async def page(window: int | None) -> list[str]:
            b = SqlBuilder(self._dialect)
            sql = compile_trace_search(
                b,
                filter_text=filter_text,
                order_by=order_by,
                experiment_ids=experiment_ids,
                limit=max_results + 1,
                offset=offset,
                window=window,
            )
            return [row[0] for row in await self._fetchall(sql, b.params)]

        ids: list[str] | None = None
        if expr is not None and not order_by and not indexed_only(expr):
            # Newest first: the page usually lies among the newest traces, and scanning
            # them in order beats a plan that sorts every match. On PostgreSQL a wider
            # window comes second: its tag index cannot hold the values (they reach 8000
            # characters), so a search over everything reads every trace with the key.
            window = max(_WINDOW, 4 * (offset + max_results + 1))
            sizes = (window, 10 * window) if self._dialect == "postgres" else (window,)
            for size in sizes:
                ids = await page(size)
                if len(ids) > max_results or not await self._scope_exceeds(experiment_ids, size):
                    break
                ids = None
        if ids is None:
            ids = await page(None)
        more = len(ids) > max_results
        items = await self.infos(ids[:max_results])
        return TracePage(items, offset + max_results if more else None)

    async def count(self, experiment_ids: list[int], filters: list[str | None]) -> int:
        """How many active traces of the experiments match every one of ``filters``."""
        for text in filters:
            parse_trace_filter(text)
        if not experiment_ids:
            return 0
        b = SqlBuilder(self._dialect)
        sql = compile_trace_count(b, filters=filters, experiment_ids=experiment_ids)
        rows = await self._fetchall(sql, b.params)
        return int(rows[0][0])

    async def _scope_exceeds(self, experiment_ids: list[int], count: int) -> bool:
        rows = await self._fetchall(
            f"SELECT 1 FROM traces WHERE experiment_id IN ({_marks(len(experiment_ids))}) "
            "AND stage = 'active' LIMIT 1 OFFSET ?",
            [*experiment_ids, count],
        )
        return bool(rows)

    async def run_traces(self, run_id: str) -> list[str]:
        """The active traces that ran under the run or are linked to it."""
        rows = await self._fetchall(
            "SELECT t.trace_id FROM traces t WHERE t.stage = 'active' AND (t.trace_id IN "
            "(SELECT trace_id FROM trace_run_links WHERE run_id = ?) OR t.trace_id IN "
            "(SELECT trace_id FROM trace_metadata WHERE key = 'mlflow.sourceRun' AND value = ?))"
            " ORDER BY t.timestamp_ms DESC, t.trace_id",
            [run_id, run_id],
        )
        return [row[0] for row in rows]

    async def counts(self, experiment_ids: list[int]) -> dict[str, int]:
        """Active traces per experiment."""
        rows = await self._fetchall(
            f"SELECT experiment_id, COUNT(*) FROM traces WHERE experiment_id IN "
            f"({_marks(len(experiment_ids))}) AND stage = 'active' GROUP BY experiment_id",
            list(experiment_ids),
        )
        return {str(row[0]): int(row[1]) for row in rows}
