"""A run search's page token says where the next page resumes in the order (its first
key's value at the page's last run): the pages must be those of the order, and a run
logged between pages that sorts before the resume point must not shift them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.helpers import ok, post
from tests.api.search_helpers import RUNS, seed_plans, spy_searches
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun

#: Orders whose pages resume at a value, each with ties within and across pages, and
#: runs without a value (NaN, no metric, no end time, only NaN values) after every run
#: with one.
ORDERS = [
    [],
    ["start_time ASC"],
    ["attributes.end_time DESC"],
    ["attributes.end_time ASC", "metrics.m DESC"],
    ["metrics.m ASC"],
    ["metrics.m DESC", "params.p ASC"],
    ["metrics.nan DESC"],
    ["metrics.nan ASC"],
    ["MIN(metrics.m) ASC"],
    ["MAX(metrics.m) DESC", "start_time ASC"],
    ["MAX(metrics.nan) DESC"],
]
#: Orders of one key whose runs without it (last, newest first) fill pages of their own.
TAILED = {"attributes.end_time DESC", "metrics.nan DESC", "metrics.nan ASC"}


def _token(page: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(page["next_page_token"]))
    return decoded


async def _search(client, exp: int, filter_: str, order_by: list[str], size: int, token=None):
    body: dict[str, Any] = {
        "experiment_ids": [str(exp)],
        "filter": filter_,
        "order_by": order_by,
        "max_results": size,
    }
    if token is not None:
        body["page_token"] = token
    return await ok(await post(client, "runs/search", body))


def _ids(page: dict[str, Any]) -> list[str]:
    return [run["info"]["run_id"] for run in page.get("runs", [])]


async def _paged(client, exp: int, filter_: str, order_by: list[str], size: int):
    """Every page's run ids, and the tokens' offsets and resume points (None for an offset
    alone)."""
    ids: list[str] = []
    resumes, token = [], None
    while True:
        page = await _search(client, exp, filter_, order_by, size, token)
        ids += _ids(page)
        if "next_page_token" not in page:
            return ids, resumes
        token = page["next_page_token"]
        decoded = _token(page)
        resumes.append((decoded["offset"], decoded.get("resume")))


async def test_pages_that_resume_at_a_value_are_the_pages_of_the_order(backend, client):
    exp = await seed_plans(backend)
    for filter_ in ("", "params.p != 'v1'"):
        for order_by in ORDERS:
            whole = _ids(await _search(client, exp, filter_, order_by, 1000))
            assert len(whole) == (RUNS if not filter_ else RUNS - RUNS // 6)
            ids, resumes = await _paged(client, exp, filter_, order_by, 4)
            assert ids == whole, (filter_, order_by)
            # The pages did resume, not only read at their offsets; in the runs without the
            # key too, where an order of it alone has them.
            points = [r for _, r in resumes if r is not None]
            assert any(not r[3] for r in points)
            assert any(r[3] for r in points) == (",".join(order_by) in TAILED), order_by
            if order_by == ["metrics.m ASC"]:
                # Pages of 4 lie whole in the metric's groups of 8-9 runs: their resume
                # point is the one the page before gave, where the group began.
                assert any(r[1] < offset - 4 for offset, r in resumes if r is not None)


@pytest.mark.parametrize("order_by", [["metrics.m ASC"], []], ids=["metric", "default"])
async def test_a_run_logged_between_pages_before_their_boundary_shifts_no_page(
    backend, client, order_by
):
    exp = await seed_plans(backend)
    whole = _ids(await _search(client, exp, "", order_by, 1000))
    first = await _search(client, exp, "", order_by, 10)
    assert _ids(first) == whole[:10]
    # A run that sorts first (the lowest metric, the latest start): an offset would now
    # give the first page's last run again.
    run = await backend.store.execute(
        c.CreateRun(experiment_id=str(exp), run_name="late", start_time=9_000_000)
    )
    assert isinstance(run, CreatedRun)
    metric = c.MetricIn("m", -1.0, 1, 0)
    await backend.store.execute(c.LogBatch(run_id=run.event.run_id, metrics=[metric]))
    second = await _search(client, exp, "", order_by, 10, first["next_page_token"])
    assert _ids(second) == whole[10:20]


async def test_a_token_of_another_search_reads_at_its_offset(backend, client):
    exp = await seed_plans(backend)
    first = await _search(client, exp, "", ["metrics.m ASC"], 10)
    assert "resume" in _token(first)
    other = await _search(client, exp, "params.p != 'v1'", ["metrics.m ASC"], 10)
    whole = _ids(await _search(client, exp, "params.p != 'v1'", ["metrics.m ASC"], 1000))
    again = await _search(
        client, exp, "params.p != 'v1'", ["metrics.m ASC"], 10, first["next_page_token"]
    )
    assert _ids(other) == whole[:10]
    assert _ids(again) == whole[10:20]


async def _paged_with(
    client, exp: int, order_by: list[str], size: int, searches: list[Any], check
) -> list[str]:
    """Every page's run ids; ``check(searches, ids so far)`` after each page whose token
    carried a resume point, with the searches (``spy_searches``) that page made."""
    page = await _search(client, exp, "", order_by, size)
    ids = _ids(page)
    while "next_page_token" in page:
        resumes = _token(page).get("resume") is not None
        searches.clear()
        page = await _search(client, exp, "", order_by, size, page["next_page_token"])
        ids += _ids(page)
        if resumes:
            check(searches, ids)
    return ids


async def test_the_last_page_by_start_time_reads_no_rest_at_its_offset(
    backend, client, monkeypatch
):
    """Every run has a start time: the runs from the resume point's time on are the rest of
    the order, so a page that ends it (short) is one search, not also a read of every run
    before it at its offset. (Both orders on one seeded store: seeding costs more.)"""
    exp = await seed_plans(backend)
    searches = spy_searches(monkeypatch)

    def one_search(made, ids):
        assert len(made) == 1, (len(ids), [m.offset for m in made])

    size = 7  # RUNS is not a multiple of it: the last page is short
    assert RUNS % size
    for order_by in ([], ["start_time ASC", "metrics.m DESC"]):
        whole = _ids(await _search(client, exp, "", order_by, 1000))
        assert await _paged_with(client, exp, order_by, size, searches, one_search) == whole


async def test_the_page_where_the_values_end_reads_the_runs_after_them_from_the_first(
    backend, client, monkeypatch
):
    """Past the runs with a value come the runs with NaN, then those without the key: the
    page where the values end reads those from their first, not at its offset (every run
    before it again)."""
    exp = await seed_plans(backend)
    searches = spy_searches(monkeypatch)
    resumed = []

    def no_order_at_an_offset(made, ids):
        resumed.append(len(ids))
        offsets = [m.offset for m in made if m.expr is None and m.offset]
        assert offsets == [], (len(ids), offsets)

    size = 6  # no page ends where the 20 runs with an end time, or the 7 with a nan value, end
    for order_by in (
        ["attributes.end_time DESC"],
        ["attributes.end_time ASC", "metrics.m DESC"],
        ["metrics.nan ASC"],
        ["metrics.nan DESC", "start_time ASC"],
    ):
        resumed.clear()
        whole = _ids(await _search(client, exp, "", order_by, 1000))
        paged = await _paged_with(client, exp, order_by, size, searches, no_order_at_an_offset)
        assert paged == whole
        assert resumed, order_by  # the page where the values end among them
