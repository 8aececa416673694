"""A filter's driving sets (projections/search/drivers.py, text_sets.py): what they hold,
what a search driven by one still tests, and what PostgreSQL's value index decides."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from tests.api.search_helpers import (
    RUNS,
    driving_set,
    one_page,
    plan_search,
    plan_steps,
    seed_plans,
    spy_statements,
)
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun
from trackledger.projections import run_search
from trackledger.projections.search import SqlBuilder, compile_run_search, plan
from trackledger.projections.search.drivers import DriverLeaf
from trackledger.projections.search.request import RunSearch
from trackledger.services.backends import Backend


async def test_a_selective_filter_reads_its_matches_not_every_run(backend: Backend) -> None:
    exp = await seed_plans(backend)
    chosen = await driving_set(
        backend, "attributes.run_name = 'run-07' AND metrics.m > 0", exp, scans=True
    )
    assert chosen is not None and chosen.estimate == 1
    # Two sets of 10 runs that share none: their intersection is counted, not guessed.
    disjoint = await driving_set(backend, "params.p = 'v1' AND params.p = 'v2'", exp, scans=True)
    assert disjoint is not None and disjoint.estimate == 10
    with pytest.MonkeyPatch.context() as m:
        m.setattr(plan, "DRIVE_MAX", 5)
        disjoint = await driving_set(
            backend, "params.p = 'v1' AND params.p = 'v2'", exp, scans=True
        )
    assert disjoint is not None and disjoint.estimate == 0
    # The runs without a key: bounded by the store's runs less those with the key (here
    # the exact count).
    without = await driving_set(backend, "tags.team IS NULL", exp, scans=True)
    assert without is not None and without.estimate == 7
    # Every run has p: the bound says no run lacks it, so the search is answered empty
    # from the counts, and a walk (which tests every run) is not needed to learn it.
    for scans in (False, True):
        nobody = await driving_set(backend, "params.p IS NULL AND metrics.m > 0", exp, scans=scans)
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
    assert await driving_set(backend, infix, exp, scans=False) is None
    counted = await driving_set(backend, infix, exp, scans=True)
    assert counted is not None and counted.estimate == 1 and counted.costly
    assert (
        await driving_set(backend, "datasets.name = 'x' OR params.p = 'v1'", exp, scans=True)
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
        found = await driving_set(backend, filter_, exp, scans=False)
        assert found is not None and found.estimate == size and not found.costly, filter_
    # A NOT of an equality is the inequality, and of a prefix LIKE the key's values out of
    # the prefix's range: filtered ranges of the key, counted when scans are (on
    # PostgreSQL, from the value index's first characters, where they decide).
    for filter_, size in (("NOT params.p = 'v1'", 50), ("NOT params.p LIKE 'v1%'", 50)):
        found = await driving_set(backend, filter_, exp, scans=True)
        assert found is not None and found.estimate == size and found.costly, filter_
    if backend.kind == "sqlite":
        b = SqlBuilder("sqlite")
        search = plan_search(exp, "attributes.run_name = 'run-07'", ["metrics.m DESC"])
        steps = await plan_steps(backend, compile_run_search(b, search, driver=chosen.driver), b)
        assert any(s.startswith("SEARCH r USING INDEX sqlite_autoindex_runs") for s in steps), steps
        assert not any("runs_experiment" in s or s.startswith("SCAN") for s in steps), steps
        # A tag's IN list is looked up value by value (a tombstone's NULL fails the list:
        # said beside it, `value IS NOT NULL` made SQLite read all of the key's values).
        names = await driving_set(backend, "tags.team IN ('a', 'rare')", exp, scans=False)
        assert names is not None and names.estimate == 27
        b = SqlBuilder("sqlite")
        sql = names.driver.sql(b, lambda _b, _alias: "1 = 1")  # type: ignore[union-attr]
        steps = await plan_steps(backend, sql, b)
        assert any("(key=? AND value=?)" in s for s in steps), steps


async def test_a_driven_search_does_not_test_what_its_set_decides(backend: Backend) -> None:
    """A driving set that holds exactly its comparison's matches (``DriverLeaf.exact``)
    leaves that comparison out of the test of each of its runs: the key is not probed."""
    exp = await seed_plans(backend)
    for filter_, tested in (
        ("params.p = 'v3'", 0),
        ("params.p = 'v3' AND tags.rank = '4'", 0),  # the intersection of both sets
        ("tags.team = 'rare' AND metrics.m > 0.1", 1),  # m's set is too large to read
        ("metrics.nan <= 0.5 AND params.p = 'v0'", 1),  # a NaN is stored as 0
        ("MAX(metrics.m) > 0.5 AND params.lr < 0.02", 0),
        ("params.p = 'v1' OR tags.team = 'rare'", 2),  # a union: each run passes one
    ):
        search = plan_search(exp, filter_)
        chosen = await driving_set(backend, filter_, exp, scans=True)
        assert chosen is not None, filter_
        expr = plan.without_implied(search.expr, chosen, backend.kind)
        b = SqlBuilder(backend.kind)
        driven = msgspec.structs.replace(search, expr=expr)
        sql = compile_run_search(b, driven, driver=chosen.driver)
        assert sql.count("LEFT JOIN") == tested, (filter_, sql)


async def test_two_bounds_of_one_number_are_one_range(backend: Backend) -> None:
    """A lower and an upper bound of the same number in an AND are one driving set, the
    runs between them (``drivers.merge_ranges``): each bound alone names most runs, and
    bounds that cross name none, which answers the search without one."""
    exp = await seed_plans(backend)
    between = "metrics.m > 0.25 AND tags.rank != 'x' AND metrics.m < 0.45"
    chosen = await driving_set(backend, between, exp, scans=False)
    # m's latest value is (i % 7) / 10: 0.3 or 0.4 for 17 of the 60 runs (m > 0.25 alone:
    # 34 runs, m < 0.45 alone: 43).
    assert chosen is not None and chosen.estimate == 17
    names, _ = await one_page(backend, exp, between, ["attributes.run_name"], 60)
    assert names == [f"run-{i:02d}" for i in range(RUNS) if i % 7 in (3, 4)]
    # The set holds exactly the matches of both bounds: neither is tested again.
    search = plan_search(exp, between)
    expr = plan.without_implied(search.expr, chosen, backend.kind)
    assert expr is not None and "metrics" not in str(expr)
    for crossed in (
        "params.lr >= 0.03 AND metrics.m > 0 AND params.lr < 0.02",
        "MIN(metrics.m) <= 0.1 AND MIN(metrics.m) > 0.7",
    ):
        nothing = await driving_set(backend, crossed, exp, scans=False)
        assert nothing is not None and nothing.estimate == 0, crossed
        assert await one_page(backend, exp, crossed, [], 10) == ([], None)


def test_postgres_probes_compare_what_the_key_run_index_holds() -> None:
    """On PostgreSQL a probe of a run's param or tag reads the (key, run) index, which
    holds the value's first characters: comparisons they decide read them (and no table
    row), the others the value."""
    b = SqlBuilder("postgres")
    long = "v" * 300
    search = plan_search(
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
    ("filter_", "scan"),
    [
        ("params.long LIKE '%v1'", True),  # past the first 256 characters only
        ("params.long ILIKE '%V_'", True),
        ("params.long LIKE '%v'", True),  # the first characters match; the value may not
        ("attributes.run_name LIKE '%1'", True),
        ("tags.team ILIKE '%B%'", True),
        ("params.long ILIKE 'V%1'", False),  # a range per spelling of V, then the rest
        ("params.long LIKE 'v%2'", False),
        ("params.p ILIKE 'V_'", False),
        ("params.long ILIKE 'vV%'", False),  # values of 253-257 characters, and of 301
    ],
)
async def test_a_pattern_set_holds_every_match(backend: Backend, filter_: str, scan: bool) -> None:
    """A LIKE or ILIKE with no literal prefix is a scan of the key's values; with one, a
    range of the value index per spelling of the prefix. On PostgreSQL either tests the
    pattern (or its rest) on the values' first characters, which the index holds, and
    keeps every value longer than them for the search to test whole: the table's rows
    are read by the search alone."""
    exp = await seed_plans(backend)
    search = msgspec.structs.replace(plan_search(exp, filter_), limit=1000)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    chosen = await searcher.driving_set(search, scans=True)
    assert chosen is not None and chosen.costly == scan
    leaf = chosen.driver
    # A scan's count kept its runs' ids (``KEEP_IDS``); its own set reads the values.
    assert isinstance(leaf, DriverLeaf) and (leaf.ids is not None) == scan
    b = SqlBuilder(searcher._dialect)
    sql = plan.set_sql(b, msgspec.structs.replace(leaf, ids=None), lambda b, alias: "1 = 1")
    if b.dialect == "postgres":
        assert "value_prefix" in sql and " value LIKE" not in sql and " value ILIKE" not in sql
    driven = await searcher._page(search, None, chosen)
    walked = await searcher._page(search, None)
    assert driven == walked and walked


def spy_marks(backend: Backend, patch: pytest.MonkeyPatch) -> list[Any]:
    """The commit marks the run searcher reads from now on."""
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    marks: list[Any] = []
    read = searcher._commit_mark

    async def spied() -> Any:
        marks.append(await read())
        return marks[-1]

    patch.setattr(searcher, "_commit_mark", spied)
    return marks


async def test_a_keys_counts_are_kept_until_a_write_commits(backend: Backend, monkeypatch) -> None:
    """The runs that lack a key are bounded by two counts (every run, the key's rows) that
    read every row they count; they are kept while the commit mark stays (SQLite: the
    log's last position; PostgreSQL: the server's snapshot, which other tests' writes on
    the same server move too), and counted again once a write commits."""
    exp = await seed_plans(backend)
    sent = spy_statements(backend, monkeypatch)
    marks = spy_marks(backend, monkeypatch)
    key_counts = (
        "SELECT (SELECT count(*) FROM runs) - (SELECT count(*) FROM params k WHERE k.key = ?)"
    )
    # Every run has p: no run lacks it, and the page is empty without a search.
    assert await one_page(backend, exp, "params.p IS NULL", [], 10) == ([], None)
    assert sent.count(key_counts) == 1
    assert await one_page(backend, exp, "params.p IS NULL AND metrics.m > 0", [], 10) == (
        [],
        None,
    )
    moved = marks[1] != marks[0]
    if backend.kind == "sqlite":
        assert not moved  # nothing else writes to this store
    assert sent.count(key_counts) == 1 + moved  # kept unless a write committed
    made = await backend.store.execute(c.CreateRun(experiment_id=str(exp), run_name="no-p"))
    assert isinstance(made, CreatedRun)
    assert await one_page(backend, exp, "params.p IS NULL", [], 10) == (["no-p"], None)
    assert marks[2] != marks[1]
    assert sent.count(key_counts) == 2 + moved  # a write committed: counted again


@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_a_count_is_kept_only_under_the_mark_its_search_read(backend: Backend) -> None:
    """Searches run alongside: one that read a mark before a write must not keep what it
    counted under the later mark another search has read since (its count may predate
    that write), nor read what was kept under another mark."""
    exp = await seed_plans(backend)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    leaf = DriverLeaf(plan_search(exp, "params.p IS NULL").expr)  # type: ignore[arg-type]
    now = await searcher._forget_if_written()
    assert await searcher._kept_bound(leaf, "an earlier mark") == 0
    assert searcher._counts == {}  # not kept: the search's mark is not the current one
    assert await searcher._kept_bound(leaf, now) == 0
    assert len(searcher._counts) == 1
    (key,) = searcher._counts
    searcher._counts[key] = 7  # what a stale count would be
    assert await searcher._kept_bound(leaf, "an earlier mark") == 0  # counted, not read
    assert await searcher._kept_bound(leaf, now) == 7


@pytest.mark.parametrize("order_by", [[], ["attributes.start_time ASC"], ["status", "params.q"]])
async def test_a_window_of_runs_probes_each_of_its_runs(backend: Backend, order_by) -> None:
    """On PostgreSQL a window of the runs' own index (start time, or an indexed attribute)
    or of a metric's values reads each filter key as a LATERAL subquery of the run, which
    its planner can only probe run by run (``Joins.probed``); a window of a param's or
    tag's values joins as before unless its edge says to probe (``Edge.probe``). A window
    wider than the scope holds every run: its page is the walk's."""
    exp = await seed_plans(backend)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    filter_ = (
        "params.p != 'v1' AND metrics.nan >= 0 AND tags.team IS NULL "
        "AND attributes.run_name NOT LIKE '%7'"
    )
    search = msgspec.structs.replace(plan_search(exp, filter_, order_by), limit=50)
    edge = await searcher._edge(search, RUNS + 1)
    assert edge.value is None  # the window is every run
    b = SqlBuilder(searcher._dialect)
    sql = compile_run_search(b, search, edge=edge)
    lateral = " LEFT JOIN LATERAL (SELECT * FROM params k WHERE k.run_id = r.run_id"
    assert (lateral in sql) == (backend.kind == "postgres"), sql
    windowed = await searcher._page(search, edge)
    assert windowed == await searcher._page(search, None) and windowed
    for key, probed in (("metrics.m", backend.kind == "postgres"), ("params.q", False)):
        keyed = plan_search(exp, filter_, [key])
        b = SqlBuilder(searcher._dialect)
        keyed_sql = compile_run_search(b, keyed, edge=await searcher._edge(keyed, 5))
        assert ("LATERAL" in keyed_sql) == probed, keyed_sql


async def test_a_param_window_probes_its_runs_unless_a_tie_may_fill_it(backend: Backend) -> None:
    """On PostgreSQL a window of a param's or tag's values probes each of its runs when
    the value at twice its width differs from its edge's (no group of runs tied on the
    edge's value fills it) and the filter has no IS NULL or IS NOT NULL part; the page is
    the same either way. SQLite's windows never probe that way."""
    exp = await seed_plans(backend)
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    postgres = backend.kind == "postgres"
    # params.q: v1, v3, v5, v7 and v9, six runs each.
    search = plan_search(exp, "params.p != 'v1' AND metrics.m >= 0", ["params.q"])
    edge = await searcher._edge(search, 5)  # v1; the 10th value is v3
    assert edge.value == "v1" and await searcher._probes(search, 5, edge) == postgres
    probed = msgspec.structs.replace(edge, probe=True)
    b = SqlBuilder(backend.kind)
    assert ("LATERAL" in compile_run_search(b, search, edge=probed)) == postgres
    assert await searcher._page(search, probed) == await searcher._page(search, edge)
    # Two wide: the 4th value is v1 too, and v1's runs may be thousands.
    assert not await searcher._probes(search, 2, await searcher._edge(search, 2))
    with_null = plan_search(exp, "tags.team IS NULL AND metrics.m >= 0", ["params.q"])
    assert not await searcher._probes(with_null, 5, await searcher._edge(with_null, 5))


async def _run_ids(backend: Backend, exp: int, names: list[str]) -> tuple[str, ...]:
    listed = ", ".join(f"'{name}'" for name in names)
    page = await backend.reads.search_runs(
        experiment_ids=[exp],
        filter_text=f"attributes.run_name IN ({listed})",
        order_by=["attributes.run_name"],
        view_type="ACTIVE_ONLY",
        max_results=len(names),
        offset=0,
    )
    return tuple(run.info.run_id for run in page.items)  # type: ignore[attr-defined]


async def test_a_set_costly_to_read_again_is_read_by_the_ids_its_count_kept(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting an infix LIKE's set tests every value of its key, and counting an
    intersection reads each part's range: a count that finds at most ``KEEP_IDS`` runs
    keeps their ids, and a search driven by that set reads those runs by id, not the
    key's values or the parts' ranges again."""
    exp = await seed_plans(backend)
    infix = await driving_set(backend, "attributes.run_name LIKE '%-07'", exp, scans=True)
    assert infix is not None and isinstance(infix.driver, DriverLeaf)
    assert infix.driver.ids == await _run_ids(backend, exp, ["run-07"])
    # An intersection too large to read on its parts' sizes (10 runs each) is counted:
    # the count keeps the two runs both hold.
    monkeypatch.setattr(plan, "DRIVE_MAX", 5)
    both = "params.p = 'v1' AND tags.rank = '4'"
    chosen = await driving_set(backend, both, exp, scans=True)
    assert chosen is not None and chosen.estimate == 2
    assert set(chosen.driver.ids or ()) == set(await _run_ids(backend, exp, ["run-19", "run-49"]))
    b = SqlBuilder(backend.kind)
    members = plan.set_sql(b, chosen.driver, lambda _b, _alias: "1 = 1")
    assert "params" not in members and "run_tags" not in members, members
    searcher = backend.reads._runs  # type: ignore[attr-defined]
    expected = list(reversed(await _run_ids(backend, exp, ["run-19", "run-49"])))
    sent = spy_statements(backend, monkeypatch)
    ids = await searcher._page(plan_search(exp, both, ["attributes.run_name DESC"]), None, chosen)
    assert ids == expected
    assert len(sent) == 1 and "params" not in sent[0].split("ORDER BY")[0], sent
    # A count past KEEP_IDS keeps none: the set is read from its ranges.
    monkeypatch.setattr(plan, "KEEP_IDS", 1)
    chosen = await driving_set(backend, both, exp, scans=True)
    assert chosen is not None and chosen.estimate == 2 and chosen.driver.ids is None
