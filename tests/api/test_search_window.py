"""Newest-first searches look at a window of runs first; the answers must not change."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from tests.api.helpers import new_experiment, new_run, ok, post
from tests.api.search_helpers import spy_first_groups, spy_windows
from trackledger.projections import run_search
from trackledger.projections.search import plan, request
from trackledger.projections.sql_reads import SqlReadModel


async def pages(client, exp_id, filter_, order_by, size, view="ACTIVE_ONLY"):
    body = {
        "experiment_ids": exp_id if isinstance(exp_id, list) else [exp_id],
        "filter": filter_,
        "order_by": order_by,
        "max_results": size,
        "run_view_type": view,
    }
    out = []
    while True:
        page = await ok(await post(client, "runs/search", body))
        out.append([r["info"]["run_name"] for r in page.get("runs", [])])
        if "next_page_token" not in page:
            return out
        body["page_token"] = page["next_page_token"]


@pytest.mark.parametrize(
    "filter_", ["tags.team = 'a'", "tags.team = 'rare'", "params.p = '3'", "tags.none = 'x'"]
)
@pytest.mark.parametrize("direction", ["DESC", "ASC"])
async def test_windowed_search_gives_the_same_pages(client, monkeypatch, filter_, direction):
    monkeypatch.setattr(run_search, "WINDOW", 5)
    exp_id = await new_experiment(client)
    for i in range(40):
        team = "rare" if i in (2, 37) else ("a" if i % 3 == 0 else "b")
        run_id = await new_run(
            client,
            exp_id,
            run_name=f"r{i:02d}",
            start_time=1000 + i,
            tags=[{"key": "team", "value": team}],
        )
        await ok(
            await post(
                client, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": str(i % 5)}
            )
        )
    # The same order, spelled so that the window cannot apply (MLflow's tie-break is run_id).
    plain = await pages(client, exp_id, filter_, [f"start_time {direction}", "run_id ASC"], 3)
    windowed = await pages(client, exp_id, filter_, [f"start_time {direction}"], 3)
    assert windowed == plain
    if direction == "DESC":
        assert await pages(client, exp_id, filter_, [], 3) == plain


#: Sort keys of MLflow's orders (the key, then start time newest first, then run id).
ORDERS = {
    "": lambda r: (-r["start"], r["id"]),
    "start_time ASC": lambda r: (r["start"], r["id"]),
    "attributes.end_time DESC": lambda r: (
        r["end"] is None,
        -(r["end"] or 0),
        -r["start"],
        r["id"],
    ),
    "attributes.user_id ASC": lambda r: (r["user"], -r["start"], r["id"]),
}


@pytest.mark.parametrize("filter_", ["", "tags.team = 'a'"])
@pytest.mark.parametrize("order", list(ORDERS))
async def test_several_experiments_and_stages_give_the_pages_of_one_sort(
    client, monkeypatch, filter_, order
):
    """Windows over several experiments (and deleted runs beside active ones) read each
    one's first runs apart: the pages must still be those of one sort of every run, with
    ties in start time across the experiments."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    experiments = [await new_experiment(client, "a"), await new_experiment(client, "b")]
    runs = []
    for i in range(36):
        team = "a" if i % 4 else "b"
        run_id = await new_run(
            client,
            experiments[i % 2],
            run_name=f"r{i:02d}",
            start_time=1000 + i // 3,
            user_id=("alice", "bob", "carol")[i % 3],
            tags=[{"key": "team", "value": team}],
        )
        end = 5000 - i // 2 if i % 5 else None
        if end is not None:
            await ok(await post(client, "runs/update", {"run_id": run_id, "end_time": end}))
        if i % 7 == 3:
            await ok(await post(client, "runs/delete", {"run_id": run_id}))
        run = {"name": f"r{i:02d}", "id": run_id, "start": 1000 + i // 3, "end": end}
        runs.append({**run, "user": ("alice", "bob", "carol")[i % 3], "team": team})
    order_by = [order] if order else []
    for view, stages in (("ACTIVE_ONLY", 1), ("ALL", 2)):
        kept = [r for r in runs if not filter_ or r["team"] == "a"]
        if view == "ACTIVE_ONLY":
            kept = [r for i, r in enumerate(kept) if int(r["name"][1:]) % 7 != 3]
        expected = [r["name"] for r in sorted(kept, key=ORDERS[order])]
        got = await pages(client, experiments, filter_, order_by, 4, view)
        assert [name for page in got for name in page] == expected, (view, stages)


#: SQLite reading a whole (experiment, stage) range of the runs' index, with no bound on
#: the order's column.
_WHOLE_RANGE = re.compile(
    r"SEARCH \w+ USING (COVERING )?INDEX \w+ \(experiment_id=\? AND lifecycle_stage=\?\)"
)


@pytest.mark.parametrize("order_by", [[], ["start_time ASC"], ["attributes.user_id DESC"]])
async def test_a_page_of_several_experiments_sorts_no_whole_experiment(
    backend, client, monkeypatch, order_by
):
    """Over several experiments, the runs of each are in order in their index range, but
    one query over all the ranges sorts every run of them: no statement of the search
    may both read a whole range and sort what it read (SQLite's query plans; each range
    is read in index order as far as its first runs)."""
    if backend.kind != "sqlite":
        return  # PostgreSQL plans tables this small with sequential scans
    monkeypatch.setattr(run_search, "WINDOW", 5)
    experiments = [await new_experiment(client, "a"), await new_experiment(client, "b")]
    for i in range(60):
        await new_run(client, experiments[i % 2], start_time=1000 + i, user_id=f"u{i % 7}")
    await _assert_no_whole_sort(backend, experiments, order_by)


@pytest.mark.parametrize("order", ["attributes.end_time DESC", "attributes.user_id ASC"])
async def test_a_page_without_a_filter_in_an_attributes_order_sorts_no_whole_experiment(
    backend, client, monkeypatch, order
):
    """One experiment, no filter, in the order of a run attribute with an index of its
    own: the runs that lack the value come last, which the walk says with an expression
    no index holds, so a plain walk sorted every run of the experiment; the windows read
    the index in order. The pages are those of one sort."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    exp_id = await new_experiment(client, "attributes")
    runs = []
    for i in range(40):
        user = ("alice", "bob", "carol")[i % 3]
        name = f"r{i:02d}"
        run_id = await new_run(
            client, exp_id, run_name=name, start_time=1000 + i // 3, user_id=user
        )
        end = 5000 - i // 2 if i % 5 else None
        if end is not None:
            await ok(await post(client, "runs/update", {"run_id": run_id, "end_time": end}))
        runs.append({"name": name, "id": run_id, "start": 1000 + i // 3, "end": end, "user": user})
    expected = [r["name"] for r in sorted(runs, key=ORDERS[order])]
    got = await pages(client, exp_id, "", [order], 4)
    assert [name for page in got for name in page] == expected
    if backend.kind == "sqlite":  # PostgreSQL plans tables this small with sequential scans
        await _assert_no_whole_sort(backend, [exp_id], [order])


async def _assert_no_whole_sort(backend, experiments: list[str], order_by: list[str]) -> None:
    """A first page of the experiments' runs with no filter, in ``order_by``: no statement
    of its search both reads a whole (experiment, stage) range and sorts what it read."""
    statements: list[tuple[str, Sequence[Any]]] = []
    readers = backend.store.readers

    async def capture(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        statements.append((sql, params))
        return await readers.fetchall(sql, params)

    page = await SqlReadModel(capture, "sqlite").search_runs(
        experiment_ids=[int(e) for e in experiments],
        filter_text=None,
        order_by=order_by,
        view_type="ACTIVE_ONLY",
        max_results=4,
        offset=0,
    )
    assert len(page.items) == 4
    for sql, params in statements:
        steps = await readers.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
        sorts = {parent for _, parent, _, detail in steps if "TEMP B-TREE FOR ORDER BY" in detail}
        whole = {parent for _, parent, _, detail in steps if _WHOLE_RANGE.fullmatch(detail)}
        assert not sorts & whole, (sql, steps)


@pytest.mark.parametrize("order", ["attributes.user_id ASC", "user_id DESC"])
async def test_an_order_by_a_shared_user_pages_through_its_first_group(client, monkeypatch, order):
    """Many runs share a user: the first user's runs are searched first, in start time's
    order (a window in the user's order held them all, and sorted them: the runs without
    a user come last, which no index says), and the pages are those of one sort."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    monkeypatch.setattr(plan, "DRIVE_MAX", 5)  # the filter's set is not read at once
    exp_id = await new_experiment(client, "groups")
    runs = []
    for i in range(45):
        user = ("alice", "bob", "carol")[i % 3]
        name = f"r{i:02d}"
        run_id = await new_run(
            client, exp_id, run_name=name, start_time=1000 + i // 2, user_id=user
        )
        param = {"run_id": run_id, "key": "p", "value": str(i % 2)}
        await ok(await post(client, "runs/log-parameter", param))
        runs.append(
            {"name": name, "id": run_id, "start": 1000 + i // 2, "user": user, "p": str(i % 2)}
        )
    descending = order.endswith("DESC")
    ranked = sorted(runs, key=lambda r: (-r["start"], r["id"]))
    ranked.sort(key=lambda r: r["user"], reverse=descending)  # stable: ties keep the order
    expected = [r["name"] for r in ranked if r["p"] == "1"]
    grouped = spy_first_groups(monkeypatch)
    got = await pages(client, exp_id, "params.p = '1'", [order], 4)
    assert [name for page in got for name in page] == expected
    assert grouped  # the first pages came from the first user's runs


async def test_an_attempt_stops_at_a_large_first_group_that_misses(backend, client, monkeypatch):
    """Inside an attempt (a first group's own search), when the order's first value is
    shared by more runs than a window and its runs do not hold the page, a window in that
    order would read all of them: the attempt gives up instead (the search that made it
    goes on with its own plans). 1,000,000 runs by user, then a param: 550 -> 330 ms."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    monkeypatch.setattr(plan, "DRIVE_MAX", 2)  # the filter's set is not read at once
    exp_id = await new_experiment(client, "attempts")
    for i in range(40):
        run_id = await new_run(client, exp_id, run_name=f"r{i:02d}", start_time=1000 + i)
        params = [{"key": "p", "value": "b" if i % 4 else "a"}, {"key": "q", "value": str(i % 4)}]
        await ok(await post(client, "runs/log-batch", {"run_id": run_id, "params": params}))
    searcher = backend.reads._runs
    windows = spy_windows(monkeypatch)
    # By p DESC the first value is 'b' (30 runs), none of which has q = '0'.
    search = request.run_search(
        filter_text="params.q = '0'",
        order_by=["params.p DESC"],
        experiment_ids=[int(exp_id)],
        stages=("active",),
        limit=4,
        offset=0,
    )
    assert await searcher._search(search, 1, plan.Sizes(), attempt=True) is None
    assert windows == []
    page = await pages(client, exp_id, "params.q = '0'", ["params.p DESC"], 4)
    assert [name for names in page for name in names] == [f"r{i:02d}" for i in range(36, -1, -4)]


@pytest.mark.parametrize(
    ("filter_", "order", "expected"),
    [
        # The first values in the order all fail the filter's bound of the same value.
        ("metrics.m > 30", "metrics.m ASC", range(31, 40)),
        ("metrics.m < 8 AND metrics.m >= 2", "metrics.m DESC", range(7, 1, -1)),
        ("MAX(metrics.m) >= 133", "MAX(metrics.m) ASC", range(33, 40)),
        # A bound of another value of the key is not counted in the window's edge.
        ("MIN(metrics.m) > 30", "metrics.m ASC", range(31, 40)),
        # A NaN latest value is stored as 0: it passes no bound, and never shows.
        ("metrics.m > -1 AND metrics.m < 6", "metrics.m ASC", range(0, 6)),
    ],
)
async def test_a_window_of_a_metric_starts_at_the_filters_bound_of_it(
    client, monkeypatch, filter_, order, expected
):
    """A filter that bounds the metric its order sorts (``metrics.loss > 2`` ordered by
    loss ascending) keeps none of the first values: the window is counted among the values
    within the bound, so it holds the page (100,000 runs: 20-80 ms -> 3 ms)."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    monkeypatch.setattr(plan, "DRIVE_MAX", 2)  # the filter's set is not read at once
    exp_id = await new_experiment(client, "bounded")
    for i in range(40):
        run_id = await new_run(client, exp_id, run_name=f"r{i:02d}", start_time=1000 + i)
        metrics = [
            {"key": "m", "value": i + 100, "timestamp": 1, "step": 0},
            {"key": "m", "value": i, "timestamp": 2, "step": 1},
        ]
        await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))
    nan_run = await new_run(client, exp_id, run_name="nan", start_time=2000)
    nan = [{"key": "m", "value": "NaN", "timestamp": 1, "step": 0}]
    await ok(await post(client, "runs/log-batch", {"run_id": nan_run, "metrics": nan}))
    answered = spy_windows(monkeypatch)
    got = await pages(client, exp_id, filter_, [order], 3)
    assert [name for page in got for name in page] == [f"r{i:02d}" for i in expected]
    if "MIN" not in filter_:
        assert answered[0] is not None  # the first page came from the window


@pytest.mark.parametrize(
    ("filter_", "order", "expected"),
    [
        ("attributes.start_time < 1010", [], range(9, -1, -1)),
        ("attributes.created >= 1030 AND start_time < 1037", ["start_time ASC"], range(30, 37)),
        ("attributes.end_time <= 5020", ["attributes.end_time DESC"], range(20, -1, -2)),
    ],
)
async def test_a_window_of_runs_starts_at_the_filters_bound_of_their_time(
    client, monkeypatch, filter_, order, expected
):
    """The same for a window in start or end time's order and the filter's bounds of that
    time: ``start_time < x``, newest first, no longer looks at the newest runs first."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    monkeypatch.setattr(plan, "DRIVE_MAX", 2)  # the filter's set is not read at once
    exp_id = await new_experiment(client, "timed")
    for i in range(40):
        run_id = await new_run(client, exp_id, run_name=f"r{i:02d}", start_time=1000 + i)
        if i % 2 == 0:
            body = {"run_id": run_id, "status": "FINISHED", "end_time": 5000 + i}
            await ok(await post(client, "runs/update", body))
    answered = spy_windows(monkeypatch)
    got = await pages(client, exp_id, filter_, order, 3)
    assert [name for page in got for name in page] == [f"r{i:02d}" for i in expected]
    assert answered[0] is not None  # the first page came from the window


@pytest.mark.parametrize("order", [["metrics.m ASC"], ["start_time DESC"]])
@pytest.mark.parametrize(
    ("filter_", "expected"),
    [("params.p = 'a'", range(0, 100, 10)), ("params.q = 'later'", range(20, 30))],
)
async def test_a_large_scope_widens_a_window_past_its_usual_cap(
    client, monkeypatch, order, filter_, expected
):
    """When a window holds some matches but not a page, a wider one at the same rate is
    searched if it is within ``WIDER_MAX``, or within a ``WIDER_SHARE``-th of the scope:
    on 1,000,000 runs that spares a scan of 0.7-1.5 s (36 such searches of the query
    mix: 15.0 -> 5.3 s in all). When it holds none, in a scope that large, a window of
    the share's whole width (52 searches: 27.0 -> 21.5 s). Scaled down: caps of 2 and a
    scope of 100 runs; the first window (16 entries for a page of 3 and one more) holds 2
    of the runs with p = 'a', and none of those with q = 'later'."""
    monkeypatch.setattr(run_search, "WINDOW", 5)
    monkeypatch.setattr(run_search, "WIDER_MAX", {True: 2, False: 2})
    monkeypatch.setattr(run_search, "WIDER_SHARE", {True: 2, False: 2})
    monkeypatch.setattr(plan, "DRIVE_MAX", 2)  # the filter's set is not read at once
    exp_id = await new_experiment(client, "widened")
    for i in range(100):
        run_id = await new_run(client, exp_id, run_name=f"r{i:02d}", start_time=2000 - i)
        body = {
            "run_id": run_id,
            "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": 0}],
            "params": [
                {"key": "p", "value": "a" if i % 10 == 0 else "b"},
                {"key": "q", "value": "later" if 20 <= i < 30 else "sooner"},
            ],
        }
        await ok(await post(client, "runs/log-batch", body))
    answered = spy_windows(monkeypatch)
    got = await pages(client, exp_id, filter_, order, 3)
    assert [name for page in got for name in page] == [f"r{i:02d}" for i in expected]
    assert answered[0] is not None  # the first page came from the windows
