"""Newest-first searches look at a window of runs first; the answers must not change."""

from __future__ import annotations

import pytest

from tests.api.helpers import new_experiment, new_run, ok, post
from trackledger.projections import run_search


async def pages(client, exp_id, filter_, order_by, size):
    body = {
        "experiment_ids": [exp_id],
        "filter": filter_,
        "order_by": order_by,
        "max_results": size,
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
