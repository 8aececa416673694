"""Invariants: a replay of the log equals the live projections, in order and shuffled."""

from __future__ import annotations

import random

import pytest
from trackledger.eventlog.events import decode_event
from trackledger.projections import sqlite_rebuild
from trackledger.projections.sqlite_apply import SQLiteProjector

from tests.projections.workload import random_workload


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_replay_equals_live_projections(client, backend, seed):
    await random_workload(client, seed)
    assert await backend.verify() == {}


async def test_verify_catches_a_row_changed_behind_the_logs_back(client, backend):
    await random_workload(client, seed=4, steps=100)

    def tamper(conn):
        run_id, key = conn.execute("SELECT run_id, key FROM params LIMIT 1").fetchone()
        conn.execute(
            "UPDATE params SET value = value || '!' WHERE run_id = ? AND key = ?", (run_id, key)
        )
        conn.execute(
            "UPDATE runs SET status = 'KILLED' WHERE run_id = (SELECT MIN(run_id) FROM runs)"
        )

    await backend.writer.submit(tamper)
    differences = await backend.verify()
    assert set(differences) == {"params", "runs"}


@pytest.mark.parametrize("seed", [5, 6])
async def test_shuffled_application_gives_the_same_tables(client, backend, seed):
    await random_workload(client, seed)
    rng = random.Random(seed)

    def shuffled(conn):
        sqlite_rebuild.start_shadow(conn)
        rows = conn.execute("SELECT position, payload FROM events").fetchall()
        rng.shuffle(rows)
        projector = SQLiteProjector(sqlite_rebuild.SHADOW)
        for position, payload in rows:
            projector.apply(conn, decode_event(payload), position)
        return sqlite_rebuild.diff_tables(conn)

    assert await backend.writer.submit(shuffled) == {}


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
