"""A filtered search is answered by walking the runs in the page's order or by reading its
filter's driving sets (projections/search/plan.py); whichever the sizes pick, every page
is the same. Each query runs four ways: as planned, always walking, always driving, and
walking a small window first."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.projections import run_search
from trackledger.projections.search import SqlBuilder, compile_run_search, plan, runs
from trackledger.projections.search.groups import first_value_sql
from trackledger.projections.search.plan import Chosen
from trackledger.projections.search.request import RunSearch
from trackledger.services.backends import Backend

RUNS = 60


def _every_run(b: SqlBuilder, alias: str) -> str:
    return "1 = 1"  # a param's or tag's first value is read over every run


FILTERS = [
    "",
    "params.p = 'v3'",
    "params.p IN ('v1', 'v4') AND metrics.m > 0.3",
    "params.lr < 0.03",
    "params.lr IN (0.01, 0.05) OR tags.team = 'rare'",
    "tags.team = 'a' AND metrics.m <= 0.5",
    "attributes.run_name = 'run-07'",
    "attributes.run_name LIKE 'run-1%'",
    "attributes.run_name LIKE 'run-1_' AND params.p != 'v2'",
    "tags.`mlflow.runName` IN ('run-03', 'run-44', 'nobody')",
    "MIN(metrics.m) < 0.2",
    "MAX(metrics.m) >= 0.8 AND params.p = 'v0'",
    "metrics.m = 0.5",
    "metrics.nan >= 0",
    "metrics.nan != 1",
    "params.p = 'v3' AND params.q = 'v5'",
    "(params.p = 'v1' OR params.p = 'v2') AND (tags.team = 'b' OR metrics.m > 0.9)",
    "params.p = 'v1' OR NOT tags.team = 'a'",
    "attributes.start_time >= 1000030 AND params.p = 'v2'",
    "attributes.run_id IN ('nope', 'also-nope')",
    "tags.team = 'rare' AND params.missing IS NULL",
    "params.lr >= 0.02 AND params.lr <= 0.04 AND tags.team != 'b'",
    "tags.team IS NULL",
    "params.p IS NULL",
    "params.p IS NULL AND tags.team = 'a'",
    "params.p IS NULL OR tags.team = 'rare'",
    "NOT params.lr IS NOT NULL OR metrics.m > 0.9",
    "metrics.nan IS NULL AND params.p = 'v2'",
    "attributes.end_time IS NULL AND params.q IS NULL AND attributes.status = 'RUNNING'",
    "attributes.run_id != 'x' AND tags.team IS NULL OR attributes.user_id IS NULL",
    "attributes.run_name ILIKE '%-0_' AND attributes.start_time != 1000003",
    "NOT (params.p = 'v1' OR tags.team != 'a')",
    "NOT metrics.m < 0.5",
    "NOT metrics.nan != 1",
    "NOT metrics.nan = 1 AND NOT MIN(metrics.m) > 0.2",
    "NOT attributes.run_name LIKE 'run-1%'",
    "NOT (tags.team IS NOT NULL) AND params.p = 'v2'",
    "NOT params.lr > 0.02 AND NOT tags.team ILIKE 'A'",
    "NOT (attributes.end_time IS NULL AND metrics.m > 0.3)",
    "NOT (NOT params.q = 'v3' OR attributes.run_id IN ('x'))",
    "tags.rank > 2",
    "tags.rank IN (1, 4) AND NOT tags.rank != 4",
    "NOT tags.rank <= 1 AND params.p = 'v1'",
    "attributes.run_name ILIKE 'RUN-1%'",
    "tags.team ILIKE 'A' OR attributes.run_name ILIKE 'Run-0_'",
    "NOT params.p NOT IN ('v1', 'v2') OR NOT attributes.end_time < 2000003 "
    "OR NOT status != 'FAILED' OR NOT attributes.run_id NOT IN ('x') OR NOT metrics.nan >= 1",
    "NOT tags.rank > 2 OR params.p = 'v1'",
    "NOT params.p = 'v1' AND NOT tags.team LIKE 'a%' AND NOT params.q IN ('v1', 'v3')",
    # Parts on one key, which an order by that key tests on the rows it walks.
    "(params.q IS NULL OR params.q = 'v3') AND NOT (tags.team != 'a' AND tags.team IS NOT NULL)",
    "NOT (metrics.nan = 1 AND metrics.nan IS NOT NULL) AND params.p != 'v0'",
    "metrics.nan != 1 AND tags.team IN ('a', 'rare') AND params.q > 'v2'",
    "NOT (params.lr < 0.01 OR tags.rank >= 1)",
    # A user or status that the filter fixes: a window in start time's order is of that
    # value's runs (window_edges._fixed).
    "attributes.user_id = 'u1' AND metrics.m > 0.2",
    "status = 'FAILED' AND params.p != 'v1'",
    # A driving set that holds exactly its comparison's matches spares testing it again;
    # a metric's latest NaN is stored as 0, so a set of a range holding 0 does not.
    "metrics.nan <= 0",
    "metrics.nan < 0.5 AND params.p IN ('v0', 'v4')",
    "MAX(metrics.nan) >= 0 AND tags.rank = '4'",
    "attributes.run_id IN ('nope') OR params.q IS NOT NULL AND params.q = 'v5'",
    # Values longer than PostgreSQL's value index holds: their first characters decide
    # (in)equality to a shorter string only.
    f"params.long != '{'v' * 300}2' AND params.long NOT IN ('v', '{'v' * 256}')",
    f"params.long NOT IN ('{'v' * 255}', 'x') OR params.long = '{'v' * 300}1'",
]

ORDERS: list[list[str]] = [
    [],
    ["metrics.m DESC"],
    ["MAX(metrics.m) ASC", "params.p DESC"],
    ["tags.team DESC", "metrics.m ASC"],
    ["tags.team", "params.p DESC", "metrics.m"],
    ["params.q", "user_id"],
    ["attributes.start_time DESC", "metrics.m ASC"],
    ["start_time", "params.p DESC"],
    ["attributes.run_name DESC"],
    ["attributes.user_id DESC", "metrics.m ASC"],
    ["end_time"],
    ["status DESC"],
    ["run_id DESC"],
    ["params.p ASC"],
    ["tags.team"],
    ["metrics.nan ASC"],
    ["params.long DESC", "params.p"],
]


async def _seed(backend: Backend) -> int:
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


def _search(exp: int, filter_: str, order_by: list[str] | None = None) -> RunSearch:
    return runs.run_search(
        filter_text=filter_,
        order_by=order_by or [],
        experiment_ids=[exp],
        stages=("active",),
        limit=10,
        offset=0,
    )


async def _driving_set(backend: Backend, filter_: str, exp: int, *, scans: bool) -> Chosen | None:
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    chosen: Chosen | None = await searcher.driving_set(_search(exp, filter_), scans=scans)
    return chosen


async def _plan_steps(backend: Backend, sql: str, b: SqlBuilder) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of ``sql`` (with ``b``'s parameters), a line a step."""
    readers = backend.store.readers  # type: ignore[attr-defined]
    return [row[3] for row in await readers.fetchall(f"EXPLAIN QUERY PLAN {sql}", b.params)]


async def _page(
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


async def _pages(backend: Backend, exp: int, filter_: str, order_by: list[str]) -> list[str]:
    names: list[str] = []
    offset: int | None = 0
    while offset is not None:
        found, offset = await _page(backend, exp, filter_, order_by, 11, offset)
        names.extend(found)
    return names


@pytest.mark.timeout(300)
async def test_every_plan_gives_the_same_pages(backend: Backend, monkeypatch) -> None:
    exp = await _seed(backend)
    planned, walked, driven, windowed = {}, {}, {}, {}
    for filter_ in FILTERS:
        for order_by in ORDERS:
            planned[filter_, str(order_by)] = await _pages(backend, exp, filter_, order_by)
    with monkeypatch.context() as m:
        m.setattr(run_search, "choose", lambda *args: None)
        for filter_ in FILTERS:
            for order_by in ORDERS:
                walked[filter_, str(order_by)] = await _pages(backend, exp, filter_, order_by)
    with monkeypatch.context() as m:
        m.setattr(plan, "DRIVE_MAX", 10**9)
        m.setattr(plan, "PROBE_CAP", 10**9)
        for filter_ in FILTERS:
            for order_by in ORDERS:
                driven[filter_, str(order_by)] = await _pages(backend, exp, filter_, order_by)
    grouped: list[list[str]] = []
    first_group = run_search.RunSearcher._first_group

    async def spied(self: run_search.RunSearcher, *args: Any) -> tuple[list[str] | None, bool]:
        ids, large = await first_group(self, *args)
        if ids is not None:
            grouped.append(ids)
        return ids, large

    with monkeypatch.context() as m:
        # Small windows: the first runs in the page's order hold some pages, not others.
        # Groups of more than 5 runs sharing a first key's first value are searched
        # first, ordered by the other keys.
        m.setattr(run_search, "WINDOW", 5)
        m.setattr(run_search.RunSearcher, "_first_group", spied)
        m.setattr(run_search, "choose", lambda *args: None)
        for filter_ in FILTERS:
            for order_by in ORDERS:
                windowed[filter_, str(order_by)] = await _pages(backend, exp, filter_, order_by)
    assert planned == walked
    assert driven == walked
    assert windowed == walked
    assert len(grouped) >= 15  # pages answered from a first group
    # The data set is not degenerate: most queries find some runs, some find none.
    assert sum(1 for names in walked.values() if names) > len(walked) * 0.7
    assert any(not names for names in walked.values())


async def test_a_selective_filter_reads_its_matches_not_every_run(backend: Backend) -> None:
    exp = await _seed(backend)
    chosen = await _driving_set(
        backend, "attributes.run_name = 'run-07' AND metrics.m > 0", exp, scans=True
    )
    assert chosen is not None and chosen.estimate == 1
    # Two sets of 10 runs that share none: their intersection is counted, not guessed.
    disjoint = await _driving_set(backend, "params.p = 'v1' AND params.p = 'v2'", exp, scans=True)
    assert disjoint is not None and disjoint.estimate == 10
    with pytest.MonkeyPatch.context() as m:
        m.setattr(plan, "DRIVE_MAX", 5)
        disjoint = await _driving_set(
            backend, "params.p = 'v1' AND params.p = 'v2'", exp, scans=True
        )
    assert disjoint is not None and disjoint.estimate == 0
    # The runs without a key: bounded by the store's runs less those with the key (here
    # the exact count).
    without = await _driving_set(backend, "tags.team IS NULL", exp, scans=True)
    assert without is not None and without.estimate == 7
    # Every run has p: the bound says no run lacks it, so the search is answered empty
    # from the counts, and a walk (which tests every run) is not needed to learn it.
    for scans in (False, True):
        nobody = await _driving_set(backend, "params.p IS NULL AND metrics.m > 0", exp, scans=scans)
        assert nobody is not None and nobody.estimate == 0
    compiled: list[object] = []
    real = run_search.compile_run_search
    with pytest.MonkeyPatch.context() as m:

        def counting(b: SqlBuilder, search: RunSearch, **kwargs: Any) -> str:
            compiled.append(kwargs)
            return real(b, search, **kwargs)

        m.setattr(run_search, "compile_run_search", counting)
        page = await backend.reads.search_runs(
            experiment_ids=[exp],
            filter_text="params.p IS NULL",
            order_by=["metrics.m DESC"],
            view_type="ACTIVE_ONLY",
            max_results=10,
            offset=0,
        )
    assert page.items == [] and page.next_offset is None
    assert len(compiled) == 1  # the filter's check, and no search
    # An infix LIKE is counted only when asked (counting it reads the key's whole range).
    infix = "attributes.run_name LIKE '%-07'"
    assert await _driving_set(backend, infix, exp, scans=False) is None
    counted = await _driving_set(backend, infix, exp, scans=True)
    assert counted is not None and counted.estimate == 1 and counted.costly
    assert (
        await _driving_set(backend, "datasets.name = 'x' OR params.p = 'v1'", exp, scans=True)
        is None
    )
    # An ILIKE prefix is index ranges, one per spelling of its letters' case; a tag's
    # numbers have an index of their own: both are counted, cheaply, from the start.
    for filter_, size in (
        ("attributes.run_name ILIKE 'RUN-07'", 1),
        ("attributes.run_name ILIKE 'rUn-1%'", 10),
        ("tags.rank >= 4", 10),
        ("NOT params.lr > 0", 12),  # a NOT of a range of numbers is the other range
        ("NOT MIN(metrics.m) >= 0.1", 14),  # of a metric's MIN() too
        ("NOT params.p != 'v1'", 10),  # a NOT of an inequality is the equality
        ("NOT tags.rank NOT IN ('4')", 10),
        ("NOT metrics.nan != 1", 7),  # the latest values 1 (none is NaN)
        ("NOT metrics.nan < 1", 15),  # the values from 1 up, and the NaN ones (stored as 0)
    ):
        found = await _driving_set(backend, filter_, exp, scans=False)
        assert found is not None and found.estimate == size and not found.costly, filter_
    # A NOT of an equality is the inequality, and of a prefix LIKE the key's values out of
    # the prefix's range: filtered ranges of the key, counted when scans are (on
    # PostgreSQL, from the value index's first characters, where they decide).
    for filter_, size in (("NOT params.p = 'v1'", 50), ("NOT params.p LIKE 'v1%'", 50)):
        found = await _driving_set(backend, filter_, exp, scans=True)
        assert found is not None and found.estimate == size and found.costly, filter_
    if backend.kind == "sqlite":
        b = SqlBuilder("sqlite")
        search = _search(exp, "attributes.run_name = 'run-07'", ["metrics.m DESC"])
        steps = await _plan_steps(backend, compile_run_search(b, search, driver=chosen.driver), b)
        assert any(s.startswith("SEARCH r USING INDEX sqlite_autoindex_runs") for s in steps), steps
        assert not any("runs_experiment" in s or s.startswith("SCAN") for s in steps), steps
        # A tag's IN list is looked up value by value (a tombstone's NULL fails the list:
        # said beside it, `value IS NOT NULL` made SQLite read all of the key's values).
        names = await _driving_set(backend, "tags.team IN ('a', 'rare')", exp, scans=False)
        assert names is not None and names.estimate == 27
        b = SqlBuilder("sqlite")
        sql = names.driver.sql(b, lambda _b, _alias: "1 = 1")  # type: ignore[union-attr]
        steps = await _plan_steps(backend, sql, b)
        assert any("(key=? AND value=?)" in s for s in steps), steps


async def test_a_filter_on_the_first_order_key_is_tested_on_the_walked_rows(
    backend: Backend,
) -> None:
    """An order by a metric, param or tag walks that key's rows: the filter's parts on the
    key alone are tested there, before any probe of the run (as an index range when the
    walk has no window's edge), and the first group is the first value that passes
    them."""
    exp = await _seed(backend)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    b = SqlBuilder(backend.kind)
    search = _search(exp, "tags.rank > 2 AND params.p != 'v1'", ["tags.rank", "metrics.m"])
    first_sql = first_value_sql(b, search.keys[0], search.expr, _every_run)
    rows = await searcher._fetchall(first_sql, b.params)
    assert rows == [("3",)]  # not '0', the first value of every run's
    # Values longer than PostgreSQL's value index holds: those sharing its characters are
    # read and sorted whole.
    for order, first in (("params.long DESC", "v" * 300 + "2"), ("params.long", "v" * 253)):
        b = SqlBuilder(backend.kind)
        key = _search(exp, "", [order]).keys[0]
        sql = first_value_sql(b, key, None, _every_run)
        assert await searcher._fetchall(sql, b.params) == [(first,)]
    if backend.kind == "sqlite":
        walk = "SEARCH o USING INDEX latest_metrics_key_value"
        ranged = _search(exp, "metrics.m >= 0.8 AND params.p = 'v2'", ["metrics.m"])
        b = SqlBuilder("sqlite")
        sql = compile_run_search(b, ranged)
        steps = await _plan_steps(backend, sql, b)
        assert any(s.startswith(walk) and "(key=? AND value>?)" in s for s in steps), steps
        # The key is read from the walk, in the arms of the values and of the NaNs (the
        # runs without m are the third arm's): no join of the metric beside it.
        assert sql.count("latest_metrics") == 4, sql
        b = SqlBuilder("sqlite")
        sql = compile_run_search(b, ranged, edge=runs.Edge(0.9))
        steps = await _plan_steps(backend, sql, b)
        assert any(s.startswith(walk) and "(key=? AND value<?)" in s for s in steps), steps
        assert sql.count("latest_metrics") == 1, sql


async def test_an_order_key_every_match_ties_on_does_not_order_the_page(
    backend: Backend, monkeypatch
) -> None:
    """A filter that says every match lacks a key (``IS NULL`` in its top-level AND) or
    fixes its value (``=``) makes every match tie on that key: the search drops it from
    the order, and gives the same pages as a search that keeps it."""
    exp = await _seed(backend)
    cases: list[tuple[str, list[str]]] = [
        ("params.q IS NULL AND tags.team = 'a'", ["params.q DESC", "metrics.m"]),
        ("tags.team IS NULL", ["tags.team", "user_id DESC"]),
        ("metrics.nan IS NULL AND params.p != 'v1'", ["MAX(metrics.nan)", "params.p"]),
        ("attributes.user_id = 'u1' AND metrics.m > 0.2", ["user_id DESC", "params.p"]),
        ("attributes.status = 'FAILED'", ["status", "metrics.m DESC"]),
        ("attributes.start_time = 1000007", ["start_time ASC"]),
        ("run_name = 'run-07' OR params.p = 'v1'", ["tags.`mlflow.runName`"]),  # kept
        ("tags.team = 'a' AND metrics.m = 0.3", ["tags.team DESC", "metrics.m", "params.p"]),
        ("params.q IS NULL OR params.p = 'v1'", ["params.q"]),  # not every match: kept
        ("params.lr = 0.01", ["params.lr DESC"]),  # '0.01' and '1e-2' are kept apart
        ("MIN(metrics.m) = 0.1", ["MAX(metrics.m)"]),  # another aggregate: kept
    ]
    kept = [run_search._without_tied_keys(_search(exp, f, o)).keys for f, o in cases]
    assert [[k.field.key for k in keys] for keys in kept] == [
        ["m"],
        ["user_id"],
        ["p"],
        ["p"],
        ["m"],
        [],
        ["mlflow.runName"],
        ["p"],
        ["q"],
        ["lr"],
        ["m"],
    ]
    pages = {case[0]: await _pages(backend, exp, case[0], case[1]) for case in cases}
    monkeypatch.setattr(run_search, "_without_tied_keys", lambda search: search)
    for filter_, order_by in cases:
        names = pages[filter_]
        assert names and names == await _pages(backend, exp, filter_, order_by), filter_


async def test_a_large_scope_reads_a_set_too_large_to_count_at_first(
    backend: Backend, monkeypatch
) -> None:
    """When the windows in a key's order miss and every set is past ``PROBE_CAP``, a set
    of up to a ``SCAN_RATIO``-th of the scope is read instead of testing every run of
    the scope (in a scope of 1,000,000 runs, 40,000 runs). Scaled down: 60 runs, a cap of
    3, sets of up to 60 // SCAN_RATIO runs, and small windows, which miss the matches at
    the end of the order. In start-time order the walk, which stops at a full page, is
    kept."""
    exp = await _seed(backend)
    cases = [
        ("params.p = 'v3' AND metrics.m < 0.3", ["metrics.m DESC"], True),
        ("tags.team = 'b' AND params.lr >= 0.04", ["params.p ASC"], True),
        (
            "(params.q IN ('v3', 'v9') OR tags.rank = '4') AND metrics.m > 0.5",
            ["start_time"],
            False,
        ),
    ]

    async def page(filter_: str, order_by: list[str]) -> list[str]:
        return (await _page(backend, exp, filter_, order_by, 2))[0]

    answers = {case[0]: await page(*case[:2]) for case in cases}
    compiled: list[dict[str, Any]] = []
    real = run_search.compile_run_search

    def spied(b: SqlBuilder, search: RunSearch, **kwargs: Any) -> str:
        compiled.append(kwargs)
        return real(b, search, **kwargs)

    monkeypatch.setattr(run_search, "compile_run_search", spied)
    monkeypatch.setattr(run_search, "WINDOW", 2)
    monkeypatch.setattr(run_search, "WIDER_MAX", {True: 2, False: 2})
    monkeypatch.setattr(plan, "PROBE_CAP", 3)
    monkeypatch.setattr(plan, "DRIVE_MAX", 3)
    monkeypatch.setattr(plan, "LARGE_CAP", 40)
    for ratio, large in ((1, True), (30, False)):  # sets of up to 40 runs; of none
        monkeypatch.setattr(plan, "SCAN_RATIO", ratio)
        for filter_, order_by, keyed in cases:
            compiled.clear()
            assert await page(filter_, order_by) == answers[filter_], (filter_, ratio)
            last = compiled[-1]
            assert (last.get("driver") is not None) == (large and keyed), (filter_, ratio)
            assert last.get("edge") is None  # the windows missed
    assert all(answers.values())


async def test_a_driven_search_does_not_test_what_its_set_decides(backend: Backend) -> None:
    """A driving set that holds exactly its comparison's matches (``DriverLeaf.exact``)
    leaves that comparison out of the test of each of its runs: the key is not probed."""
    exp = await _seed(backend)
    for filter_, tested in (
        ("params.p = 'v3'", 0),
        ("params.p = 'v3' AND tags.rank = '4'", 0),  # the intersection of both sets
        ("tags.team = 'rare' AND metrics.m > 0.1", 1),  # m's set is too large to read
        ("metrics.nan <= 0.5 AND params.p = 'v0'", 1),  # a NaN is stored as 0
        ("MAX(metrics.m) > 0.5 AND params.lr < 0.02", 0),
        ("params.p = 'v1' OR tags.team = 'rare'", 2),  # a union: each run passes one
    ):
        search = _search(exp, filter_)
        chosen = await _driving_set(backend, filter_, exp, scans=True)
        assert chosen is not None, filter_
        expr = plan.without_implied(search.expr, chosen, backend.kind)
        b = SqlBuilder(backend.kind)
        driven = msgspec.structs.replace(search, expr=expr)
        sql = compile_run_search(b, driven, driver=chosen.driver)
        assert sql.count("LEFT JOIN") == tested, (filter_, sql)


def test_postgres_probes_compare_what_the_key_run_index_holds() -> None:
    """On PostgreSQL a probe of a run's param or tag reads the (key, run) index, which
    holds the value's first characters: comparisons they decide read them (and no table
    row), the others the value."""
    b = SqlBuilder("postgres")
    long = "v" * 300
    search = _search(
        1,
        f"params.p = 'v1' AND tags.team LIKE 'a%' AND params.q NOT IN ('v1', 'v2') "
        f"AND params.long != '{long}' AND tags.rank LIKE '%1' AND params.lr > 0.1",
    )
    sql = compile_run_search(b, search, scan=True)
    for decided in ("p0.value_prefix =", "t1.value_prefix LIKE", "p2.value_prefix NOT IN"):
        assert decided in sql, sql
    for whole in ("p3.value !=", "t4.value LIKE", "p5.num_value >"):
        assert whole in sql, sql
    assert "t1.value_prefix IS NOT NULL" in sql  # a live tag, said of the index's column


@pytest.mark.parametrize(
    "filter_",
    [
        "params.long LIKE '%v1'",  # past the first 256 characters only
        "params.long ILIKE '%V_'",
        "params.long LIKE '%v'",  # the first characters match; the whole value may not
        "attributes.run_name LIKE '%1'",
        "tags.team ILIKE '%B%'",
    ],
)
async def test_a_pattern_set_holds_every_match(backend: Backend, filter_: str) -> None:
    """A LIKE or ILIKE with no literal prefix is a scan of the key's values; on
    PostgreSQL it tests their first characters, which the (key, run) index holds, and
    keeps every value longer than them for the search to test whole."""
    exp = await _seed(backend)
    search = msgspec.structs.replace(_search(exp, filter_), limit=1000)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    chosen = await searcher.driving_set(search, scans=True)
    assert chosen is not None and chosen.costly
    b = SqlBuilder(searcher._dialect)
    sql = plan.set_sql(b, chosen.driver, lambda b, alias: "1 = 1")
    if b.dialect == "postgres":
        assert "value_prefix" in sql and " value LIKE" not in sql and " value ILIKE" not in sql
    driven = await searcher._page(search, None, chosen)
    walked = await searcher._page(search, None)
    assert driven == walked and walked
