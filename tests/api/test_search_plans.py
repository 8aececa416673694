"""A filtered search is answered by walking the runs in the page's order or by reading its
filter's driving sets (projections/search/plan.py); whichever the sizes pick, every page
is the same. Each query runs four ways: as planned, always walking, always driving, and
walking a small window first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.search_helpers import (
    all_pages,
    every_run,
    one_page,
    plan_search,
    plan_steps,
    seed_plans,
    spy_compiled,
    spy_first_groups,
    spy_statements,
)
from trackledger.projections import run_search
from trackledger.projections.search import SqlBuilder, compile_run_search, plan, runs
from trackledger.projections.search.groups import first_value_sql
from trackledger.services.backends import Backend

pytestmark = pytest.mark.slow

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
    # A LIKE's prefix that PostgreSQL's value index decides (up to its 256 characters)
    # names exactly the matches; a longer one, and other patterns, do not.
    f"params.long LIKE '{'v' * 256}%'",
    f"params.long LIKE '{'v' * 255}_%' AND params.p != 'v1'",
    f"params.long LIKE '{'v' * 257}%' OR tags.team ILIKE 'A%'",
    "params.p LIKE 'v1%' AND tags.rank LIKE '_'",
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


def _orders(backend: Backend, i: int) -> list[list[str]]:
    """The orders the ``i``-th filter is searched in: every one on SQLite; on PostgreSQL a
    third of them, another third for the next filter (each order with about 30 filters,
    each filter with 5 or 6 orders): every pair there took 70 s of CI on a slow machine,
    the most of any test, for the same plans compiled to the other dialect."""
    if backend.kind == "sqlite":
        return ORDERS
    return [order for j, order in enumerate(ORDERS) if (i + j) % 3 == 0]


async def _every_search(backend: Backend, exp: int) -> dict[tuple[str, str], list[str]]:
    """Every filter in its orders (``_orders``), all pages; a filter's orders at once
    (read-only searches on the backend's read connections)."""
    found: dict[tuple[str, str], list[str]] = {}
    for i, filter_ in enumerate(FILTERS):
        orders = _orders(backend, i)
        pages = await asyncio.gather(*(all_pages(backend, exp, filter_, o) for o in orders))
        for order_by, names in zip(orders, pages, strict=True):
            found[filter_, str(order_by)] = names
    return found


@pytest.mark.timeout(300)
async def test_every_plan_gives_the_same_pages(backend: Backend, monkeypatch) -> None:
    exp = await seed_plans(backend)
    planned = await _every_search(backend, exp)
    with monkeypatch.context() as m:
        m.setattr(run_search, "choose", lambda *args: None)
        walked = await _every_search(backend, exp)
    with monkeypatch.context() as m:
        m.setattr(plan, "DRIVE_MAX", 10**9)
        m.setattr(plan, "PROBE_CAP", 10**9)
        driven = await _every_search(backend, exp)
    with monkeypatch.context() as m:
        # Small windows: the first runs in the page's order hold some pages, not others.
        # Groups of more than 5 runs sharing a first key's first value are searched
        # first, ordered by the other keys.
        m.setattr(run_search, "WINDOW", 5)
        grouped = spy_first_groups(m)
        m.setattr(run_search, "choose", lambda *args: None)
        windowed = await _every_search(backend, exp)
    assert planned == walked
    assert driven == walked
    assert windowed == walked
    # Pages answered from a first group (on PostgreSQL, of a third of the pairs).
    assert len(grouped) >= (15 if backend.kind == "sqlite" else 5)
    # The data set is not degenerate: most queries find some runs, some find none.
    assert sum(1 for names in walked.values() if names) > len(walked) * 0.7
    assert any(not names for names in walked.values())


async def test_a_filter_on_the_first_order_key_is_tested_on_the_walked_rows(
    backend: Backend,
) -> None:
    """An order by a metric, param or tag walks that key's rows: the filter's parts on the
    key alone are tested there, before any probe of the run (as an index range when the
    walk has no window's edge), and the first group is the first value that passes
    them."""
    exp = await seed_plans(backend)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    b = SqlBuilder(backend.kind)
    search = plan_search(exp, "tags.rank > 2 AND params.p != 'v1'", ["tags.rank", "metrics.m"])
    first_sql = first_value_sql(b, search.keys[0], search.expr, every_run)
    rows = await searcher._fetchall(first_sql, b.params)
    assert rows == [("3",)]  # not '0', the first value of every run's
    # Values longer than PostgreSQL's value index holds: those sharing its characters are
    # read and sorted whole.
    for order, first in (("params.long DESC", "v" * 300 + "2"), ("params.long", "v" * 253)):
        b = SqlBuilder(backend.kind)
        key = plan_search(exp, "", [order]).keys[0]
        sql = first_value_sql(b, key, None, every_run)
        assert await searcher._fetchall(sql, b.params) == [(first,)]
    if backend.kind == "sqlite":
        walk = "SEARCH o USING INDEX latest_metrics_key_value"
        ranged = plan_search(exp, "metrics.m >= 0.8 AND params.p = 'v2'", ["metrics.m"])
        b = SqlBuilder("sqlite")
        sql = compile_run_search(b, ranged)
        steps = await plan_steps(backend, sql, b)
        assert any(s.startswith(walk) and "(key=? AND value>?)" in s for s in steps), steps
        # The key is read from the walk, in the arms of the values and of the NaNs (the
        # runs without m are the third arm's): no join of the metric beside it.
        assert sql.count("latest_metrics") == 4, sql
        b = SqlBuilder("sqlite")
        # In a window, the walk reads the values between the filter's bound and the edge.
        sql = compile_run_search(b, ranged, edge=runs.Edge(0.9))
        steps = await plan_steps(backend, sql, b)
        within = "(key=? AND value>? AND value<?)"
        assert any(s.startswith(walk) and within in s for s in steps), steps
        assert sql.count("latest_metrics") == 1, sql


async def test_an_order_key_every_match_ties_on_does_not_order_the_page(
    backend: Backend, monkeypatch
) -> None:
    """A filter that says every match lacks a key (``IS NULL`` in its top-level AND) or
    fixes its value (``=``) makes every match tie on that key: the search drops it from
    the order, and gives the same pages as a search that keeps it."""
    exp = await seed_plans(backend)
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
    kept = [run_search.without_tied_keys(plan_search(exp, f, o)).keys for f, o in cases]
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
    pages = {case[0]: await all_pages(backend, exp, case[0], case[1]) for case in cases}
    monkeypatch.setattr(run_search, "without_tied_keys", lambda search: search)
    for filter_, order_by in cases:
        names = pages[filter_]
        assert names and names == await all_pages(backend, exp, filter_, order_by), filter_


async def test_a_large_scope_reads_a_set_too_large_to_count_at_first(
    backend: Backend, monkeypatch
) -> None:
    """When the windows in a key's order miss and every set is past ``PROBE_CAP``, a set
    of up to a ``SCAN_RATIO``-th of the scope is read instead of testing every run of
    the scope (in a scope of 1,000,000 runs, 40,000 runs). Scaled down: 60 runs, a cap of
    3, sets of up to 60 // SCAN_RATIO runs, and small windows, which miss the matches at
    the end of the order. In start-time order the walk, which stops at a full page, is
    kept."""
    exp = await seed_plans(backend)
    cases = [
        # Ordered by another value of m than the filter bounds: the windows start at the
        # first values, not at the bound (``sorted_bounds``).
        ("params.p = 'v3' AND metrics.m < 0.3", ["MAX(metrics.m) DESC"], True),
        ("tags.team = 'b' AND params.lr >= 0.04", ["params.p ASC"], True),
        (
            "(params.q IN ('v3', 'v9') OR tags.rank = '4') AND metrics.m > 0.5",
            ["start_time"],
            False,
        ),
    ]

    async def page(filter_: str, order_by: list[str]) -> list[str]:
        return (await one_page(backend, exp, filter_, order_by, 2))[0]

    answers = {case[0]: await page(*case[:2]) for case in cases}
    compiled = spy_compiled(monkeypatch)
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


@pytest.mark.parametrize(
    ("filter_", "matches"),
    [
        ("params.p LIKE 'v1%'", lambda i: i % 6 == 1),
        ("attributes.run_name LIKE 'run-1%'", lambda i: 10 <= i < 20),
        (f"params.long LIKE '{'v' * 256}%'", lambda i: i % 4 == 1 or (i % 4 == 2 and i % 5 >= 3)),
    ],
)
async def test_a_set_of_exactly_the_matches_is_not_tested_again(
    backend: Backend, monkeypatch, filter_: str, matches: Any
) -> None:
    """A driving set that holds exactly its comparison's matches (a prefix ``LIKE``, whose
    range PostgreSQL's index of the first 256 characters decides) spares the driven search
    a probe of that key for each of its runs (PostgreSQL, 10,000 run names by ``LIKE
    'run-001%'``: 38 -> 20 ms)."""
    exp = await seed_plans(backend)
    sent = spy_statements(backend, monkeypatch)
    names, _ = await one_page(backend, exp, filter_, [], 100)
    assert sorted(names) == [f"run-{i:02d}" for i in range(60) if matches(i)]
    driven = [sql for sql in sent if sql.startswith("SELECT r.run_id FROM runs r")]
    assert driven and "JOIN" not in driven[-1], driven


@pytest.mark.parametrize("order", [["attributes.end_time DESC"], ["attributes.user_id"]])
async def test_an_order_whose_walk_sorts_every_match_scans_once_the_windows_miss(
    backend: Backend, monkeypatch, order: list[str]
) -> None:
    """In the order of a user or an end time, a walk sorts every match before its first
    page (runs without one come last: an expression no index holds); once the windows
    miss and no set is read, the scope is scanned instead, split on SQLite (1,000,000
    runs by end time: 3.7 -> 0.95 s). Here the matches lack the key, so they come last."""
    exp = await seed_plans(backend)
    filter_ = "tags.team = 'rare'"
    expected = (await one_page(backend, exp, filter_, order, 2))[0]
    compiled = spy_compiled(monkeypatch)
    monkeypatch.setattr(run_search, "WINDOW", 2)
    monkeypatch.setattr(plan, "PROBE_CAP", 1)  # the filter's set is past the cap
    assert (await one_page(backend, exp, filter_, order, 2))[0] == expected
    assert sorted(expected) == ["run-05", "run-50"]
    assert any(kwargs.get("scan") for kwargs in compiled), compiled
