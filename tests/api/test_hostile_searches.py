"""Searches and run trees a hostile (or careless) client asks for: each answers a 400 that
names the limit, or the right answer, never a 500 and never a query that runs for ever."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import error, new_experiment, new_run, ok, post
from trackledger.api.calls import MAX_EXPERIMENT_IDS
from trackledger.projections.search.parser import MAX_COMPARISONS, MAX_DEPTH, MAX_VALUES
from trackledger.projections.search.request import MAX_ORDER_BY
from trackledger.projections.search.runs import MAX_KEYS

TL = "/api/2.0/trackledger"


def _keys(n: int, joiner: str = " AND ") -> str:
    return joiner.join(f"params.p{i} >= '0'" for i in range(n))


#: (what, request beyond experiment_ids, text the error names). Each broke a parser's
#: recursion (500), a database's limits (500) or SQLite's planner (a query that never
#: ended) before the limits.
REFUSED = {
    "parentheses": ({"filter": "(" * 5000 + "params.a = 'x'" + ")" * 5000}, "levels"),
    "just too many parentheses": (
        {"filter": "(" * (MAX_DEPTH + 1) + "params.a = 'x'" + ")" * (MAX_DEPTH + 1)},
        "levels",
    ),
    "NOT chain": ({"filter": "NOT " * 5000 + "params.a = 'x'"}, "levels"),
    "NOT chain past SQLite's parser": ({"filter": "NOT " * 50 + "params.a = 'x'"}, "levels"),
    "AND chain": ({"filter": " AND ".join(["params.a = 'x'"] * 3000)}, "comparisons"),
    "OR chain": (
        {"filter": " OR ".join(["params.a = 'x'"] * (MAX_COMPARISONS + 1))},
        "comparisons",
    ),
    "IN list": (
        {"filter": "params.a IN (" + ",".join(["'x'"] * (MAX_VALUES + 1)) + ")"},
        "values",
    ),
    "IN lists together": (
        {
            "filter": " OR ".join(
                f"params.a{i} IN (" + ",".join(["'x'"] * 4000) + ")" for i in range(3)
            )
        },
        "values",
    ),
    "keys in the filter": ({"filter": _keys(MAX_KEYS + 1, " OR ")}, "different"),
    "keys in filter and order_by": (
        {"filter": _keys(MAX_KEYS - 5), "order_by": [f"metrics.m{i}" for i in range(10)]},
        "different",
    ),
    "order_by clauses": ({"order_by": [f"params.o{i}" for i in range(32)]}, "order_by"),
    "2000 order_by clauses": ({"order_by": [f"params.o{i}" for i in range(2000)]}, "order_by"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_searches_past_the_limits_are_a_400(client, case):
    exp = await new_experiment(client)
    await new_run(client, exp)
    body, needle = REFUSED[case]
    response = await post(client, "runs/search", {"experiment_ids": [exp], **body})
    assert needle in error(response, "INVALID_PARAMETER_VALUE", 400)
    # The CSV download and the logged-model search read the same filters.
    # (A GET without a query string reads a JSON body: these filters outgrow a URL.)
    export = {"experiment_ids": [exp], **body}
    response = await client.request("GET", f"{TL}/runs/export-csv", json=export)
    assert needle in error(response, "INVALID_PARAMETER_VALUE", 400)
    if needle in ("levels", "comparisons", "values"):  # the parser's limits: every search
        models = await post(client, "logged-models/search", {"experiment_ids": [exp], **body})
        assert needle in error(models, "INVALID_PARAMETER_VALUE", 400)
        experiments = await post(
            client, "experiments/search", {"filter": body["filter"].replace("params.", "tags.")}
        )
        error(experiments, "INVALID_PARAMETER_VALUE", 400)


async def test_searches_up_to_the_limits_answer(client):
    exp = await new_experiment(client)
    run = await new_run(client, exp)
    metrics = [{"key": f"m{i}", "value": i, "timestamp": 1, "step": 0} for i in range(MAX_KEYS)]
    params = [{"key": f"p{i}", "value": str(i)} for i in range(MAX_KEYS)]
    await ok(
        await post(client, "runs/log-batch", {"run_id": run, "metrics": metrics, "params": params})
    )
    allowed = [
        {"filter": "(" * MAX_DEPTH + "params.p1 = '1'" + ")" * MAX_DEPTH},
        {
            "filter": "NOT " * MAX_DEPTH
            + ("params.p1 = '1'" if MAX_DEPTH % 2 == 0 else "params.p1 = '0'")
        },
        {"filter": " AND ".join(["params.p1 = '1'"] * MAX_COMPARISONS)},
        {"filter": "params.p1 IN (" + ",".join(f"'{i}'" for i in range(MAX_VALUES)) + ")"},
        {
            "filter": _keys(MAX_KEYS - MAX_ORDER_BY),
            "order_by": [f"metrics.m{i}" for i in range(MAX_ORDER_BY)],
        },
        {"filter": _keys(MAX_KEYS)},
        # An ILIKE prefix is index ranges of 4 bound values each, one per spelling of its
        # case: every comparison one, with the rest of the values in a list, ordered by a
        # metric (whose SQL repeats the filter), within both backends' bound-value limits.
        {
            "filter": " OR ".join(
                ["params.p1 IN (" + ",".join(f"'{i}'" for i in range(MAX_VALUES - 500)) + ")"]
                + [f"params.p{i % MAX_KEYS} ILIKE 'abcd{i}%'" for i in range(MAX_COMPARISONS - 1)]
            ),
            "order_by": ["metrics.m1 DESC"],
        },
    ]
    for body in allowed:
        found = await ok(await post(client, "runs/search", {"experiment_ids": [exp], **body}))
        assert [r["info"]["run_id"] for r in found["runs"]] == [run], json.dumps(body)[:200]


async def test_too_many_experiment_ids_are_a_400(client):
    ids = [str(i) for i in range(MAX_EXPERIMENT_IDS + 1)]
    response = await post(client, "runs/search", {"experiment_ids": ids})
    assert "at most" in error(response, "INVALID_PARAMETER_VALUE", 400)
    response = await post(client, "logged-models/search", {"experiment_ids": ids})
    assert "at most" in error(response, "INVALID_PARAMETER_VALUE", 400)
    # As many as allowed is an answer (on PostgreSQL, within its query parameters).
    found = await post(client, "runs/search", {"experiment_ids": ids[:-1]})
    assert found.status_code == 200, found.text


async def _parent(client, run_id: str, parent_id: str) -> None:
    body = {"run_id": run_id, "key": "mlflow.parentRunId", "value": parent_id}
    await ok(await post(client, "runs/set-tag", body))


async def test_a_run_tree_with_parents_in_a_circle(client):
    """A parentRunId tag is whatever a client set: a run may be its own parent, or two runs
    each other's. The tree then starts where the path up would repeat a run."""
    exp = await new_experiment(client)
    a = await new_run(client, exp, run_name="a")
    await _parent(client, a, a)
    body = await ok(await client.get(f"{TL}/runs/tree", params={"run_id": a}))
    assert body["root"] == a and body["path"] == [a]
    assert body["tree"]["run_id"] == a and body["tree"]["children"] == []
    b = await new_run(client, exp, run_name="b", tags=[{"key": "mlflow.parentRunId", "value": a}])
    await _parent(client, a, b)
    c = await new_run(client, exp, run_name="c", tags=[{"key": "mlflow.parentRunId", "value": b}])
    body = await ok(await client.get(f"{TL}/runs/tree", params={"run_id": c}))
    assert body["path"][-1] == c and len(body["path"]) == len(set(body["path"])) == 3
    seen = []

    def walk(node):
        seen.append(node["run_id"])
        for child in node["children"]:
            walk(child)

    walk(body["tree"])
    assert sorted(seen) == sorted([a, b, c])  # each run once
    # Deleting with descendants ends too.
    await ok(await post(client, "runs/delete", {"run_id": a, "include_descendants": True}))


async def test_a_run_tree_deeper_than_a_json_encoder_recurses(client):
    exp = await new_experiment(client)
    chain = [await new_run(client, exp, run_name="r0")]
    for i in range(1, 300):
        tags = [{"key": "mlflow.parentRunId", "value": chain[-1]}]
        chain.append(await new_run(client, exp, run_name=f"r{i}", tags=tags))
    body = await ok(await client.get(f"{TL}/runs/tree", params={"run_id": chain[-1]}))
    assert body["path"] == chain and body["root"] == chain[0]
    node, depth = body["tree"], 1
    while node["children"]:
        (node,) = node["children"]
        depth += 1
    assert depth == 300 and node["run_id"] == chain[-1]
