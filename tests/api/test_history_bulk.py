"""MLflow's UI endpoints for several runs' histories: get-history-bulk and
get-history-bulk-interval (orders, limits, sampling and messages as MLflow 3.17.2's)."""

from __future__ import annotations

from tests.api.helpers import error, new_experiment, new_run, ok, post

AJAX = "/ajax-api/2.0/mlflow/metrics"


async def _log(client, run_id: str, points: list[tuple[int, int, object]], key="m") -> None:
    metrics = [{"key": key, "value": v, "timestamp": t, "step": s} for s, t, v in points]
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics}))


async def test_bulk_orders_by_run_then_time_step_and_value(client) -> None:
    exp = await new_experiment(client)
    a, b, empty = sorted([await new_run(client, exp) for _ in range(3)])
    points = [(3, 2, 12.0), (2, 1, 10.0), (3, 1, 12.0), (3, 1, 11.0), (-2, 7, "NaN")]
    await _log(client, b, points)
    await _log(client, a, points[:2])
    await _log(client, a, [(0, 0, 1.0)], key="other")
    got = await ok(
        await client.get(
            f"{AJAX}/get-history-bulk",
            params={"run_id": [b, empty, a], "metric_key": "m"},
        )
    )
    want = [
        (a, 2, 1, 10.0),
        (a, 3, 2, 12.0),
        (b, 2, 1, 10.0),
        (b, 3, 1, 11.0),
        (b, 3, 1, 12.0),
        (b, 3, 2, 12.0),
        (b, -2, 7, "NaN"),
    ]
    assert got["metrics"] == [
        {"key": "m", "value": v, "timestamp": t, "step": s, "run_id": r} for r, s, t, v in want
    ]
    limited = await ok(
        await client.get(
            f"{AJAX}/get-history-bulk",
            params={"run_id": [a, b], "metric_key": "m", "max_results": 3},
        )
    )
    assert limited["metrics"] == got["metrics"][:3]
    nothing = await client.get(
        f"{AJAX}/get-history-bulk", params={"run_id": [a], "metric_key": "absent"}
    )
    assert (await ok(nothing)) == {"metrics": []}


async def test_bulk_rejects_what_mlflow_rejects(client) -> None:
    url = f"{AJAX}/get-history-bulk"
    for params, message in [
        ({"metric_key": "k"}, "must specify at least one run_id"),
        ({"run_id": [f"id_{i}" for i in range(101)], "metric_key": "k"}, "more than 100"),
        ({"run_id": ["123"]}, "must specify a metric_key"),
        ({"run_id": ["123"], "metric_key": "k", "max_results": "x"}, "max_results"),
    ]:
        answer = await client.get(url, params=params)
        assert message in error(answer, "INVALID_PARAMETER_VALUE", 400)


async def test_interval_samples_each_run_keeping_its_ends(client) -> None:
    exp = await new_experiment(client)
    ten, two = await new_run(client, exp), await new_run(client, exp)
    await _log(client, ten, [(s, 100 + s, s * 1.5) for s in range(10)])
    await _log(client, two, [(5, 1, 0.5), (1, 1, "NaN")])
    url = f"{AJAX}/get-history-bulk-interval"

    async def steps(params: dict[str, object]) -> list[tuple[str, int]]:
        body = await ok(await client.get(url, params={"metric_key": "m", **params}))
        return [(m["run_id"], m["step"]) for m in body["metrics"]]

    # Ten points in 3 tiles (4, 3, 3): the first of each is 0, 4, 7; the last point (9)
    # takes the place of the last one taken.
    assert await steps({"run_ids": [ten], "max_results": 3}) == [(ten, s) for s in (0, 4, 9)]
    # Within steps 2..6 (five points, 2 tiles of 3 and 2): 2 and 5; the last, 6, takes 5's place.
    got = await steps({"run_ids": [ten], "max_results": 2, "start_step": 2, "end_step": 6})
    assert got == [(ten, 2), (ten, 6)]
    assert await steps({"run_ids": [ten], "max_results": 1}) == [(ten, 9)]
    both = await ok(await client.get(url, params={"run_ids": [two, ten], "metric_key": "m"}))
    assert [(m["run_id"], m["step"], m["value"]) for m in both["metrics"][:2]] == [
        (two, 1, "NaN"),
        (two, 5, 0.5),
    ]
    assert len(both["metrics"]) == 12


async def test_interval_rejects_what_mlflow_rejects(client) -> None:
    exp = await new_experiment(client)
    run_id = await new_run(client, exp)
    url = f"{AJAX}/get-history-bulk-interval"
    for params, message in [
        ({"metric_key": "key"}, "Missing value for required parameter 'run_ids'."),
        (
            {"run_ids": [f"id_{i}" for i in range(1000)], "metric_key": "key"},
            "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.",
        ),
        ({"run_ids": [run_id], "metric_key": "k", "max_results": 0}, "between 1 and 2500"),
        ({"run_ids": [run_id], "metric_key": ""}, "required parameter 'metric_key'"),
        (
            {"run_ids": [run_id], "metric_key": "k", "start_step": 1, "end_step": 0},
            "end_step must be greater than start_step. ",
        ),
        (
            {"run_ids": [run_id], "metric_key": "k", "start_step": 1},
            "If either start step or end step are specified, both must be specified.",
        ),
    ]:
        answer = await client.get(url, params=params)
        assert message in error(answer, "INVALID_PARAMETER_VALUE", 400)
    unknown = {"run_ids": [run_id, "f" * 32], "metric_key": "k"}
    error(await client.get(url, params=unknown), "RESOURCE_DOES_NOT_EXIST", 404)
