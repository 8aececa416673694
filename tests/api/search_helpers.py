"""A store of runs for the search-plan tests (every kind of key, ties, NULLs, NaNs and
values longer than PostgreSQL's value index holds), and the calls the tests share."""

from __future__ import annotations

import math
from typing import Any

import pytest

from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.projections import run_search
from trackledger.projections.search import SqlBuilder, request
from trackledger.projections.search.plan import Chosen
from trackledger.projections.search.request import RunSearch
from trackledger.services.backends import Backend

#: Runs in ``seed_plans``'s experiment.
RUNS = 60


def every_run(b: SqlBuilder, alias: str) -> str:
    return "1 = 1"  # a param's or tag's first value is read over every run


def spy_windows(patch: pytest.MonkeyPatch) -> list[list[str] | None]:
    """The answers of ``RunSearcher._windows`` from now on (None where the windows did not
    hold the page), as ``patch`` lasts."""
    answered: list[list[str] | None] = []
    windows = run_search.RunSearcher._windows

    async def spied(self: run_search.RunSearcher, search: RunSearch) -> list[str] | None:
        answered.append(await windows(self, search))
        return answered[-1]

    patch.setattr(run_search.RunSearcher, "_windows", spied)
    return answered


def spy_searches(patch: pytest.MonkeyPatch) -> list[RunSearch]:
    """Every search ``RunSearcher.run_ids`` is asked for from now on, as ``patch`` lasts."""
    asked: list[RunSearch] = []
    run_ids = run_search.RunSearcher.run_ids

    async def spied(self: run_search.RunSearcher, search: RunSearch) -> list[str]:
        asked.append(search)
        return await run_ids(self, search)

    patch.setattr(run_search.RunSearcher, "run_ids", spied)
    return asked


def spy_compiled(patch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments (``edge``, ``driver``, ``scan`` ...) of every plan the run
    searcher compiles from now on, as ``patch`` lasts."""
    compiled: list[dict[str, Any]] = []
    real = run_search.compile_run_search

    def spied(b: SqlBuilder, search: RunSearch, **kwargs: Any) -> str:
        compiled.append(kwargs)
        return real(b, search, **kwargs)

    patch.setattr(run_search, "compile_run_search", spied)
    return compiled


def spy_first_groups(patch: pytest.MonkeyPatch) -> list[list[str]]:
    """The pages answered from a first group (``RunSearcher._first_group``) from now on,
    as ``patch`` (a MonkeyPatch or one of its contexts) lasts."""
    grouped: list[list[str]] = []
    first_group = run_search.RunSearcher._first_group

    async def spied(self: run_search.RunSearcher, *args: Any) -> tuple[list[str] | None, bool]:
        ids, large = await first_group(self, *args)
        if ids is not None:
            grouped.append(ids)
        return ids, large

    patch.setattr(run_search.RunSearcher, "_first_group", spied)
    return grouped


async def seed_plans(backend: Backend) -> int:
    made = await backend.store.execute(c.CreateExperiment(name="plans"))
    assert isinstance(made, ExperimentId)
    for i in range(RUNS):
        run = await backend.store.execute(
            c.CreateRun(
                experiment_id=made.experiment_id,
                run_name=f"run-{i:02d}",
                start_time=1_000_000 + (i % 45),  # ties on start time
                user_id=f"u{i % 4}" if i % 5 else None,
            )
        )
        assert isinstance(run, CreatedRun)
        if i % 3 == 0:  # ended, with ties on end time; the others still RUNNING
            status = "FINISHED" if i % 2 else "FAILED"
            end = c.UpdateRun(run_id=run.event.run_id, status=status, end_time=2_000_000 + i % 7)
            await backend.store.execute(end)
        metrics = [c.MetricIn("m", ((i * 37) % 11) / 10, 1, s) for s in range(i % 3 + 1)]
        metrics.append(c.MetricIn("m", (i % 7) / 10, 2, 5))
        if i % 4 == 0:
            metrics.append(c.MetricIn("nan", math.nan if i % 8 == 0 else 1.0, 1, 0))
        params = [c.ParamIn("p", f"v{i % 6}"), c.ParamIn("lr", str((i % 5) / 100))]
        if i % 4 == 1:
            params.append(c.ParamIn("long", "v" * 300 + str(i % 3)))
        elif i % 4 == 2:
            params.append(c.ParamIn("long", "v" * (253 + i % 5)))
        if i % 2:
            params.append(c.ParamIn("q", f"v{i % 10}"))
        tags = [c.TagIn("team", "rare" if i in (5, 50) else "ab"[i % 2])] if i % 9 else []
        tags.append(c.TagIn("rank", str(i % 5) if i % 6 else "n/a"))
        await backend.store.execute(
            c.LogBatch(run_id=run.event.run_id, metrics=metrics, params=params, tags=tags)
        )
    return int(made.experiment_id)


def plan_search(exp: int, filter_: str, order_by: list[str] | None = None) -> RunSearch:
    return request.run_search(
        filter_text=filter_,
        order_by=order_by or [],
        experiment_ids=[exp],
        stages=("active",),
        limit=10,
        offset=0,
    )


async def driving_set(backend: Backend, filter_: str, exp: int, *, scans: bool) -> Chosen | None:
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    chosen: Chosen | None = await searcher.driving_set(plan_search(exp, filter_), scans=scans)
    return chosen


async def plan_steps(backend: Backend, sql: str, b: SqlBuilder) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of ``sql`` (with ``b``'s parameters), a line a step."""
    readers = backend.store.readers  # type: ignore[attr-defined]
    return [row[3] for row in await readers.fetchall(f"EXPLAIN QUERY PLAN {sql}", b.params)]


async def one_page(
    backend: Backend, exp: int, filter_: str, order_by: list[str], size: int, offset: int = 0
) -> tuple[list[str], int | None]:
    """One page's run names, and the next page's offset (None after the last)."""
    page = await backend.reads.search_runs(
        experiment_ids=[exp],
        filter_text=filter_,
        order_by=order_by,
        view_type="ACTIVE_ONLY",
        max_results=size,
        offset=offset,
    )
    names = [run.info.run_name or "" for run in page.items]  # type: ignore[attr-defined]
    return names, page.next_offset


async def all_pages(backend: Backend, exp: int, filter_: str, order_by: list[str]) -> list[str]:
    names: list[str] = []
    offset: int | None = 0
    while offset is not None:
        found, offset = await one_page(backend, exp, filter_, order_by, 11, offset)
        names.extend(found)
    return names


def spy_statements(backend: Backend, patch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement the run searcher sends from now on."""
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    sent: list[str] = []
    fetchall = searcher._fetchall

    async def spied(sql: str, params: Any) -> list[tuple[Any, ...]]:
        sent.append(sql)
        return await fetchall(sql, params)  # type: ignore[no-any-return]

    patch.setattr(searcher, "_fetchall", spied)
    return sent
