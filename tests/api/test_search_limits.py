"""The bounds of a search filter, end to end on both backends: a filter at each bound runs
and finds its run; one step past is a 400 that points at the token that crossed it, never
a 500 from the database (SQLite's parser stack, expression depth and 64-table joins,
asyncpg's 32,767 parameters)."""

from __future__ import annotations

import pytest

from tests.api.helpers import error, new_experiment, new_run, ok, post
from trackledger.projections.search.compile import MAX_KEYS
from trackledger.projections.search.parser import MAX_COMPARISONS, MAX_DEPTH, MAX_VALUES

#: Orders that compile differently: by start time (a window), and by a metric and a param
#: (three arms, each with the whole filter, and more joins).
ORDERS = [[], ["metrics.m DESC", "params.p"]]


@pytest.fixture
async def one_run(client):
    """An experiment with one run that has a tag, a metric, a param and a dataset."""
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id)
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}],
        "params": [{"key": "p", "value": "v"}],
        "tags": [{"key": "t", "value": "a7"}],
    }
    await ok(await post(client, "runs/log-batch", body))
    dataset = {"dataset": {"name": "data", "digest": "d", "source_type": "local", "source": "/"}}
    await ok(await post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [dataset]}))
    return exp_id, run_id


async def search(client, exp_id, filter_, order_by=()):
    body = {"experiment_ids": [exp_id], "filter": filter_, "order_by": list(order_by)}
    return await post(client, "runs/search", body)


async def found(client, exp_id, filter_, order_by=()):
    runs = (await ok(await search(client, exp_id, filter_, order_by))).get("runs", [])
    return [r["info"]["run_id"] for r in runs]


def nested(depth: int, leaf: str) -> str:
    """``depth`` levels of parentheses, OR and AND in turn: the deepest SQL per level."""
    text = leaf
    for i in range(depth):
        text = f"({leaf} {'AND' if i % 2 else 'OR'} {text})"
    return text


def refused(response, position: int, token: str, reason: str) -> None:
    message = error(response, "INVALID_PARAMETER_VALUE", 400)
    assert f"at position {position} near '{token}'" in message, message
    assert reason in message, message


@pytest.mark.parametrize("order_by", ORDERS)
async def test_nesting_up_to_the_bound_runs_and_past_it_is_a_400(client, one_run, order_by):
    exp_id, run_id = one_run
    for leaf in ("datasets.name LIKE 'd%'", "metrics.m = 1", "tags.t LIKE 'a%'"):
        assert await found(client, exp_id, nested(MAX_DEPTH, leaf), order_by) == [run_id]
        nots = "NOT " * MAX_DEPTH + leaf
        assert await found(client, exp_id, nots, order_by) == (
            [run_id] if MAX_DEPTH % 2 == 0 else []
        )
        deeper = nested(MAX_DEPTH + 1, leaf)
        position = [i for i, ch in enumerate(deeper) if ch == "("][MAX_DEPTH]
        refused(await search(client, exp_id, deeper, order_by), position, "(", "levels deep")
    body = {"filter": nested(MAX_DEPTH, "tags.x IS NULL")}
    assert len((await ok(await post(client, "experiments/search", body)))["experiments"]) == 2


@pytest.mark.parametrize("order_by", ORDERS)
async def test_comparisons_up_to_the_bound_run_and_past_it_are_a_400(client, one_run, order_by):
    exp_id, run_id = one_run
    parts = [f"tags.t = 'a{i}'" for i in range(MAX_COMPARISONS)]
    assert await found(client, exp_id, " OR ".join(parts), order_by) == [run_id]
    text = " OR ".join([*parts, "tags.t = 'b'"])
    position = text.rindex("tags.t")
    refused(await search(client, exp_id, text, order_by), position, "tags", "at most 500")
    experiments = " OR ".join(f"name = 'e{i}'" for i in range(MAX_COMPARISONS))
    assert await ok(await post(client, "experiments/search", {"filter": experiments})) == {}


@pytest.mark.parametrize("order_by", ORDERS)
async def test_values_up_to_the_bound_run_and_past_them_are_a_400(client, one_run, order_by):
    exp_id, run_id = one_run
    values = ", ".join(f"'a{i}'" for i in range(MAX_VALUES))
    assert await found(client, exp_id, f"tags.t IN ({values})", order_by) == [run_id]
    text = f"tags.t IN ({values}, 'b')"
    refused(await search(client, exp_id, text, order_by), len(text) - 4, "'b'", "at most 5000")


async def test_keys_up_to_the_bound_run_and_past_them_are_a_400(client, one_run):
    exp_id, run_id = one_run
    # The order's param takes the last join; the first order key drives the search.
    keys = [f"tags.k{i} IS NULL" for i in range(MAX_KEYS - 1)]
    order_by = ["metrics.m DESC", "params.p"]
    assert await found(client, exp_id, " AND ".join(keys), order_by) == [run_id]
    assert await found(client, exp_id, " AND ".join([*keys, "tags.t = 'a7'"])) == [run_id]
    text = " AND ".join([*keys, "tags.t = 'a7'", "params.p = 'v'"])
    position = text.rindex("params.p")
    refused(await search(client, exp_id, text), position, "p", "at most 50 different")
    message = error(
        await search(client, exp_id, " AND ".join([*keys, "tags.t = 'a7'"]), order_by),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert message.startswith("Invalid order_by clause at position 0 near 'p'"), message
    tags = " AND ".join(f"tags.k{i} IS NULL" for i in range(MAX_KEYS))
    assert (
        len((await ok(await post(client, "experiments/search", {"filter": tags})))["experiments"])
        == 2
    )
    message = error(
        await post(client, "experiments/search", {"filter": f"{tags} AND tags.x IS NULL"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert "at most 50 different" in message


async def test_numbers_no_column_holds_compare_as_numbers(client, one_run):
    exp_id, _ = one_run
    huge = "1" + "0" * 20
    body = {"filter": f"experiment_id = '{huge}'"}
    assert await ok(await post(client, "experiments/search", body)) == {}
    body = {"filter": f"experiment_id != '{huge}'"}
    assert len((await ok(await post(client, "experiments/search", body)))["experiments"]) == 2
    body = {"filter": f"experiment_id IN ('{exp_id}', '{'9' * 400}')"}
    found_ids = [
        e["experiment_id"]
        for e in (await ok(await post(client, "experiments/search", body)))["experiments"]
    ]
    assert found_ids == [exp_id]
    refused(await search(client, exp_id, "metrics.m = ²"), 12, "²", "unexpected character")
