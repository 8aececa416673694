"""The metric blocks (charts of long histories read them) always sum up exactly the history:
points arriving in any batching, twice, out of order, NaN and infinite, on negative steps."""

from __future__ import annotations

import random

import pytest

from tests.api.helpers import new_run, ok, post
from tests.conftest import select_sql
from trackledger.services.gc import collect

_BLOCKS = (
    "SELECT run_id, key, block, min_step, max_step, min_ts, max_ts, min_value, max_value, "
    "count, nan_count FROM metric_blocks ORDER BY run_id, key, block"
)
# The same sums, computed from the history itself (>> floors negative steps on both).
_FROM_HISTORY = (
    "SELECT run_id, key, step >> 6 AS block, min(step), max(step), min(timestamp), "
    "max(timestamp), min(CASE WHEN is_nan = 0 THEN value END), "
    "max(CASE WHEN is_nan = 0 THEN value END), sum(1 - is_nan), sum(is_nan) "
    "FROM metric_history GROUP BY run_id, key, step >> 6 ORDER BY run_id, key, block"
)


def _point(rng: random.Random) -> dict[str, object]:
    return {
        "key": rng.choice("ab"),
        "value": rng.choice([rng.random(), rng.random() * -100, "NaN", "Infinity", 0.0]),
        "timestamp": rng.randint(0, 3),
        "step": rng.choice([rng.randint(-200, 200), rng.randint(0, 5), 10**12]),
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_blocks_sum_up_the_history(client, backend, seed) -> None:
    rng = random.Random(seed)
    runs = [await new_run(client, "0") for _ in range(3)]
    sent: list[tuple[str, dict[str, object]]] = []
    for _ in range(60):
        run_id = rng.choice(runs)
        batch = [_point(rng) for _ in range(rng.randint(1, 40))]
        mine = [p for r, p in sent if r == run_id]
        if mine and rng.random() < 0.4:
            # Points the run holds already, mixed in with new ones (and one twice).
            batch += rng.sample(mine, min(len(mine), rng.randint(1, 10)))
            batch.append(batch[0])
        rng.shuffle(batch)
        await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": batch}))
        sent += [(run_id, p) for p in batch]
    blocks = await select_sql(backend, _BLOCKS)
    expected = await select_sql(backend, _FROM_HISTORY)
    assert blocks == expected
    assert len(blocks) > 20
    assert sum(b[10] for b in blocks) > 0 and any(b[2] < 0 for b in blocks)
    # And a replay of the log, in order and shuffled, builds the same blocks; so does a
    # rebuild, which applies runs of these events together (each series once per group).
    assert await backend.verify() == {}
    assert await backend.verify(shuffle=random.Random(seed)) == {}
    await backend.rebuild()
    assert await select_sql(backend, _BLOCKS) == blocks
    assert await backend.verify() == {}


async def test_a_rebuild_of_one_series_logged_point_by_point(client, backend) -> None:
    """Consecutive events of one run and key (a training loop's log-metric calls, one
    point twice among them) rebuild to the same latest value, count, range and blocks."""
    run_id = await new_run(client, "0")
    values = [0.5, 2.0, -1.0, "NaN", 3.0, 3.0, 1.5, "Infinity"]
    for step, value in enumerate(values * 20):
        body = {"run_id": run_id, "key": "loss", "value": value, "timestamp": 7, "step": step}
        await ok(await post(client, "runs/log-metric", body))
    again = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 7, "step": 0}
    await ok(await post(client, "runs/log-metric", again))
    latest = "SELECT value, step, is_nan, min_value, max_value, count FROM latest_metrics"
    before = (await select_sql(backend, latest), await select_sql(backend, _BLOCKS))
    assert before[0] == [(float("inf"), 159, 0, -1.0, float("inf"), 160)]
    await backend.rebuild()
    assert (await select_sql(backend, latest), await select_sql(backend, _BLOCKS)) == before
    assert await backend.verify() == {}


async def test_a_purged_run_leaves_no_blocks(client, backend) -> None:
    run_id = await new_run(client, "0")
    kept = await new_run(client, "0")
    metrics = [{"key": "m", "value": s, "timestamp": 1, "step": s} for s in range(200)]
    for run in (run_id, kept):
        await ok(await post(client, "runs/log-batch", {"run_id": run, "metrics": metrics}))
    count = "SELECT run_id, count(*) FROM metric_blocks GROUP BY run_id ORDER BY run_id"
    assert sorted(await select_sql(backend, count)) == sorted([(run_id, 4), (kept, 4)])
    await ok(await post(client, "runs/delete", {"run_id": run_id}))
    assert (await collect(backend, 0)).runs == 1
    assert await select_sql(backend, count) == [(kept, 4)]
    assert await backend.verify() == {}
