"""Invariants: a replay of the log equals the live projections, in order and shuffled."""

from __future__ import annotations

import random

import pytest

from tests.api.helpers import new_run, post
from tests.conftest import run_sql
from tests.projections.workload import random_workload


async def registry_events(backend) -> set[str]:
    """The kinds of registry events in the log (read with SQL: a tail of the log on a shared
    PostgreSQL server stops below other sessions' open transactions)."""
    sql = "SELECT DISTINCT type FROM events WHERE type LIKE 'registry.%'"
    if backend.kind == "sqlite":
        rows = await backend.writer.submit(lambda conn: conn.execute(sql).fetchall())
    else:
        async with backend.pool.acquire() as conn:
            rows = await conn.fetch(sql)
    return {row[0] for row in rows}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_replay_equals_live_projections(client, backend, seed):
    await random_workload(client, seed)
    # The workload reaches every kind of registry event.
    assert len(await registry_events(backend)) == 14
    assert await backend.verify() == {}


async def test_verify_catches_a_row_changed_behind_the_logs_back(client, backend):
    await random_workload(client, seed=4, steps=100, registry=False)
    run_id = await new_run(client, "0")
    await post(client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    await run_sql(backend, "UPDATE params SET value = '0.2' WHERE run_id = ?", run_id)
    await run_sql(backend, "UPDATE runs SET status = 'KILLED' WHERE run_id = ?", run_id)
    differences = await backend.verify()
    assert set(differences) == {"params", "runs"}


@pytest.mark.parametrize("seed", [5, 6])
async def test_shuffled_application_gives_the_same_tables(client, backend, seed):
    await random_workload(client, seed)
    assert len(await registry_events(backend)) == 14
    assert await backend.verify(shuffle=random.Random(seed)) == {}


async def test_rebuild_swaps_in_identical_tables_and_keeps_serving(client, backend):
    await random_workload(client, seed=8, steps=150)
    before = (
        await client.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": ["0", "1", "2", "3"], "run_view_type": "ALL"},
        )
    ).json()
    await backend.rebuild()
    await backend.rebuild()  # a second rebuild must not trip over the first one's index names
    after = (
        await client.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": ["0", "1", "2", "3"], "run_view_type": "ALL"},
        )
    ).json()
    assert after == before
    assert await backend.verify() == {}
