"""A page of runs: its runs' parts are read at once (on SQLite in one job on one connection),
and read the same as one by one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.api.helpers import new_experiment, new_run, ok, post
from trackledger.eventlog.postgres_sql import PgFetchAll
from trackledger.projections.sql_reads import SqlReadModel


async def test_a_pages_runs_read_their_parts_at_once(backend, client) -> None:
    experiment = await new_experiment(client)
    run_ids = []
    for i in range(3):
        run_id = await new_run(client, experiment, run_name=f"r{i}")
        body = {
            "run_id": run_id,
            "params": [{"key": "lr", "value": str(i)}],
            "tags": [{"key": "team", "value": "a"}],
            "metrics": [{"key": "loss", "value": i / 2, "timestamp": 5, "step": 1}],
        }
        await ok(await post(client, "runs/log-batch", body))
        run_ids.append(run_id)

    if backend.kind == "sqlite":
        fetchall = backend.store.readers.fetchall
    else:
        fetchall = PgFetchAll(backend.read_pool)
    in_flight = most = 0

    async def counting(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await fetchall(sql, params)
        finally:
            in_flight -= 1

    views = await SqlReadModel(counting, backend.kind).runs_by_id(run_ids[::-1])
    # The runs, tags, params, latest metrics, datasets, model inputs and outputs together.
    assert most == 7
    if backend.kind == "sqlite":
        jobs: list[int] = []
        fetch_many = backend.store.readers.fetch_many

        async def one_job(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
            jobs.append(len(statements))
            return await fetch_many(statements)

        one_read = SqlReadModel(failing, "sqlite", one_job)
        assert await one_read.runs_by_id(run_ids[::-1]) == views
        assert jobs == [7]
    assert [v.info.run_id for v in views] == run_ids[::-1]
    assert [v.params[0].value for v in views] == ["2", "1", "0"]
    assert [v.metrics[0].value for v in views] == [1.0, 0.5, 0.0]
    assert all({t.key: t.value for t in v.tags}["team"] == "a" for v in views)
    one_by_one = [(await backend.reads.runs_by_id([run_id]))[0] for run_id in run_ids[::-1]]
    assert views == one_by_one


async def failing(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    raise AssertionError(f"a page's parts read one by one: {sql}")
