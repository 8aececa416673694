"""The endpoints behind the web UI: run counts, run keys, downsampled metric histories and
CSV downloads."""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from tests.api.bulk import create_runs_in_bulk
from tests.api.helpers import error, new_experiment, new_run, ok, post
from trackledger.api import ui
from trackledger.projections import browse

TL = "/api/2.0/trackledger"


async def _log(client, run_id: str, **body) -> None:
    await ok(await post(client, "runs/log-batch", {"run_id": run_id, **body}))


async def test_run_counts_per_experiment_and_stage(client) -> None:
    a = await new_experiment(client, "a")
    b = await new_experiment(client, "b")
    runs = [await new_run(client, a) for _ in range(3)]
    await new_run(client, b)
    await ok(await post(client, "runs/delete", {"run_id": runs[0]}))
    body = await ok(
        await client.get(f"{TL}/experiments/run-counts", params={"experiment_ids": [a, b, "0"]})
    )
    assert body == {
        "counts": {
            a: {"active": 2, "deleted": 1},
            b: {"active": 1, "deleted": 0},
            "0": {"active": 0, "deleted": 0},
        }
    }
    bad = await client.get(f"{TL}/experiments/run-counts", params={"experiment_ids": ["x"]})
    error(bad, "INVALID_PARAMETER_VALUE", 400)


async def test_run_keys_of_several_experiments(client) -> None:
    a = await new_experiment(client, "a")
    b = await new_experiment(client, "b")
    other = await new_experiment(client, "c")
    ra, rb, rc = await new_run(client, a), await new_run(client, b), await new_run(client, other)
    await _log(
        client, ra, params=[{"key": "lr", "value": "1"}], tags=[{"key": "gone", "value": "x"}]
    )
    await ok(await post(client, "runs/delete-tag", {"run_id": ra, "key": "gone"}))
    await _log(
        client,
        rb,
        params=[{"key": "depth", "value": "3"}],
        metrics=[{"key": "acc", "value": 1, "timestamp": 1, "step": 0}],
        tags=[{"key": "team", "value": "x"}],
    )
    await _log(client, rc, params=[{"key": "elsewhere", "value": "1"}])
    body = await ok(await client.get(f"{TL}/runs/keys", params={"experiment_ids": [a, b]}))
    assert body["params"] == ["depth", "lr"]
    assert body["metrics"] == ["acc"]
    assert "team" in body["tags"] and "gone" not in body["tags"]


async def test_sampled_history_keeps_every_spike(client) -> None:
    exp = await new_experiment(client)
    run_id = await new_run(client, exp)
    values = [math.sin(s / 50) for s in range(10_000)]
    values[4321] = 100.0
    values[7777] = -50.0
    for start in range(0, 10_000, 1000):
        await _log(
            client,
            run_id,
            metrics=[
                {"key": "loss", "value": values[s], "timestamp": 10**12 + s, "step": s}
                for s in range(start, start + 1000)
            ],
        )
    await _log(client, run_id, metrics=[{"key": "loss", "value": "NaN", "timestamp": 1, "step": 5}])
    params = {"run_id": run_id, "metric_key": "loss", "max_points": 100}
    body = await ok(await client.get(f"{TL}/metrics/sampled", params=params))
    points = body["points"]
    numbers = [p for p in points if p["min"] != "NaN"]
    assert len(numbers) == 100
    assert sum(p["count"] for p in numbers) == 10_000
    assert [p["step"] for p in numbers] == list(range(0, 10_000, 100))
    assert max(p["max"] for p in numbers) == 100.0
    assert min(p["min"] for p in numbers) == -50.0
    spike = next(p for p in numbers if p["step"] == 4300)
    assert spike["max"] == 100.0 and spike["min"] == min(values[4300:4400])
    assert [p for p in points if p["min"] == "NaN"] == [
        {"step": 5, "timestamp": 1, "min": "NaN", "max": "NaN", "count": 1}
    ]

    by_time = await ok(
        await client.get(f"{TL}/metrics/sampled", params={**params, "x_axis": "timestamp"})
    )
    assert max(p["max"] for p in by_time["points"] if p["max"] != "NaN") == 100.0

    # Short histories come back point by point.
    await _log(
        client,
        run_id,
        metrics=[
            {"key": "tiny", "value": v, "timestamp": 7, "step": s} for s, v in [(2, 0.5), (1, -1.0)]
        ],
    )
    short = await ok(
        await client.get(f"{TL}/metrics/sampled", params={**params, "metric_key": "tiny"})
    )
    assert short["points"] == [
        {"step": 1, "timestamp": 7, "min": -1.0, "max": -1.0, "count": 1},
        {"step": 2, "timestamp": 7, "min": 0.5, "max": 0.5, "count": 1},
    ]


async def test_sampled_history_rejects_bad_input(client) -> None:
    exp = await new_experiment(client)
    run_id = await new_run(client, exp)
    base = {"run_id": run_id, "metric_key": "loss"}
    for extra, code, status in [
        ({"x_axis": "wall"}, "INVALID_PARAMETER_VALUE", 400),
        ({"max_points": 0}, "INVALID_PARAMETER_VALUE", 400),
        ({"max_points": 10_001}, "INVALID_PARAMETER_VALUE", 400),
        ({"max_points": "many"}, "INVALID_PARAMETER_VALUE", 400),
        ({"run_id": "f" * 32}, "RESOURCE_DOES_NOT_EXIST", 404),
    ]:
        error(await client.get(f"{TL}/metrics/sampled", params={**base, **extra}), code, status)
    error(
        await client.get(f"{TL}/metrics/sampled", params={"run_id": run_id}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    missing = await ok(await client.get(f"{TL}/metrics/sampled", params=base))
    assert missing == {"metric_key": "loss", "points": []}


async def test_sampled_runs_gives_each_run_its_own_buckets(client) -> None:
    exp = await new_experiment(client)
    long_run, short_run, without = [await new_run(client, exp) for _ in range(3)]
    values = [float(s % 7) for s in range(2000)]
    values[1234] = 99.0
    for start in range(0, 2000, 1000):
        await _log(
            client,
            long_run,
            metrics=[
                {"key": "loss", "value": values[s], "timestamp": 10**12 + s, "step": s}
                for s in range(start, start + 1000)
            ],
        )
    await _log(
        client,
        short_run,
        metrics=[{"key": "loss", "value": 0.25, "timestamp": 5, "step": 3}],
    )
    body = {
        "run_ids": [long_run, short_run, without, long_run],
        "metric_key": "loss",
        "max_points": 50,
    }
    got = await ok(await client.post(f"{TL}/metrics/sampled-runs", json=body))
    assert got["metric_key"] == "loss"
    assert [r["run_id"] for r in got["runs"]] == [long_run, short_run, without]
    first, second, third = got["runs"]
    assert len(first["step"]) == 50 and sum(first["count"]) == 2000
    assert first["step"][:3] == [0, 40, 80] and max(first["max"]) == 99.0
    # The same buckets the one-run endpoint gives.
    one = await ok(
        await client.get(
            f"{TL}/metrics/sampled",
            params={"run_id": long_run, "metric_key": "loss", "max_points": 50},
        )
    )
    assert [p["max"] for p in one["points"]] == first["max"]
    assert [p["min"] for p in one["points"]] == first["min"]
    assert second == {
        "run_id": short_run,
        "step": [3],
        "timestamp": [5],
        "min": [0.25],
        "max": [0.25],
        "count": [1],
    }
    assert third == {
        "run_id": without,
        "step": [],
        "timestamp": [],
        "min": [],
        "max": [],
        "count": [],
    }
    # A GET with the ids in the query string answers the same; by time too.
    by_get = await ok(
        await client.get(
            f"{TL}/metrics/sampled-runs",
            params={"run_ids": [long_run, short_run], "metric_key": "loss", "max_points": 50},
        )
    )
    assert by_get["runs"] == got["runs"][:2]
    by_time = await ok(
        await client.post(f"{TL}/metrics/sampled-runs", json={**body, "x_axis": "timestamp"})
    )
    assert max(by_time["runs"][0]["max"]) == 99.0


async def test_long_histories_of_many_runs_are_read_from_blocks(client, monkeypatch) -> None:
    exp = await new_experiment(client)
    runs = [await new_run(client, exp) for _ in range(2)]
    for n, run_id in enumerate(runs):
        values = [float((s + n) % 7) for s in range(2000)]
        values[1234] = 99.0 + n
        for start in range(0, 2000, 1000):
            batch = [
                {"key": "loss", "value": values[s], "timestamp": 10**12 + s, "step": s}
                for s in range(start, start + 1000)
            ]
            await _log(client, run_id, metrics=batch)
        # One point again (no new point), and a NaN beside a number at step 5.
        await _log(client, run_id, metrics=[*batch[:1], {**batch[0], "step": 5, "value": "NaN"}])
    body = {"run_ids": runs, "metric_key": "loss", "max_points": 50}
    exact = await ok(await client.post(f"{TL}/metrics/sampled-runs", json=body))
    # Past the budget of points read per request, 2,000 points (at least 8 x 50) are read
    # from their 32 blocks of 64 steps: fewer buckets, the same values and counts.
    monkeypatch.setattr(browse, "_RAW_ROWS", 0)
    for axis in ("step", "timestamp"):
        got = await ok(
            await client.post(f"{TL}/metrics/sampled-runs", json={**body, "x_axis": axis})
        )
        for n, (run, whole) in enumerate(zip(got["runs"], exact["runs"], strict=True)):
            nan = [i for i, v in enumerate(run["min"]) if v == "NaN"]
            assert [run["count"][i] for i in nan] == [1]
            assert sum(run["count"]) == sum(whole["count"]) == 2001
            numbers = [v for v in run["min"] if v != "NaN"]
            assert 25 <= len(numbers) <= 32 < len(whole["step"])
            assert max(v for v in run["max"] if v != "NaN") == 99.0 + n
            assert min(numbers) == 0.0
            assert run["step"][0] == 0 and run["step"] == sorted(run["step"])
            assert run["timestamp"] == sorted(run["timestamp"])


async def test_sampled_runs_rejects_bad_input(client) -> None:
    exp = await new_experiment(client)
    run_id = await new_run(client, exp)
    base = {"run_ids": [run_id], "metric_key": "loss"}
    for extra, code, status in [
        ({"x_axis": "wall"}, "INVALID_PARAMETER_VALUE", 400),
        ({"max_points": 0}, "INVALID_PARAMETER_VALUE", 400),
        ({"run_ids": []}, "INVALID_PARAMETER_VALUE", 400),
        ({"run_ids": [f"{i:032x}" for i in range(501)]}, "INVALID_PARAMETER_VALUE", 400),
        ({"metric_key": None}, "INVALID_PARAMETER_VALUE", 400),
        ({"run_ids": [run_id, "f" * 32]}, "RESOURCE_DOES_NOT_EXIST", 404),
    ]:
        error(await client.post(f"{TL}/metrics/sampled-runs", json={**base, **extra}), code, status)


async def test_csv_download_of_a_search(client) -> None:
    exp = await new_experiment(client)
    ids = {}
    for i, name in enumerate(["a", "b", "c"]):
        ids[name] = await new_run(
            client,
            exp,
            run_name=name,
            user_id="ada",
            start_time=1000 + i,
            tags=[
                {"key": "mlflow.source.type", "value": "LOCAL"},
                {"key": "mlflow.source.name", "value": "train, v2.py"},
            ],
        )
        await _log(
            client,
            ids[name],
            params=[{"key": "lr", "value": str(10**-i)}],
            metrics=[{"key": "acc", "value": i / 2, "timestamp": 1, "step": 0}],
        )
    await _log(client, ids["c"], params=[{"key": "only_c", "value": "yes"}])
    response = await client.get(
        f"{TL}/runs/export-csv",
        params={"experiment_ids": [exp], "filter": "params.lr < 0.5", "order_by": "params.lr"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        [
            "Run ID",
            "Name",
            "Source Type",
            "Source Name",
            "User",
            "Status",
            "params.lr",
            "params.only_c",
            "metrics.acc",
        ],
        [ids["c"], "c", "LOCAL", "train, v2.py", "ada", "RUNNING", "0.01", "yes", "1.0"],
        [ids["b"], "b", "LOCAL", "train, v2.py", "ada", "RUNNING", "0.1", "", "0.5"],
    ]


async def test_csv_download_pages_through_every_run(client, backend, clock) -> None:
    exp = await new_experiment(client)
    # More runs than one page of the download's search: written through the log in bulk
    # (2,100 API calls took 13 s of CI on PostgreSQL on a slow machine).
    made = set(await create_runs_in_bulk(backend, clock, exp, 2100))
    response = await client.get(f"{TL}/runs/export-csv", params={"experiment_ids": [exp]})
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == 2101 and {r[0] for r in rows[1:]} == made


async def test_csv_download_rejects_a_bad_search_before_writing(client) -> None:
    exp = await new_experiment(client)
    bad = await client.get(
        f"{TL}/runs/export-csv", params={"experiment_ids": [exp], "filter": "metrics.x >>> 1"}
    )
    error(bad, "INVALID_PARAMETER_VALUE", 400)
    error(await client.get(f"{TL}/runs/export-csv"), "INVALID_PARAMETER_VALUE", 400)


async def test_the_ui_is_served_at_the_root(client) -> None:
    index = await client.get("/")
    assert index.status_code == 200
    assert '<script type="module" src="/static/js/main.js">' in index.text
    assert "default-src 'self'" in index.headers["content-security-policy"]
    for asset in ["/static/app.css", "/static/js/main.js", "/static/js/runs.js"]:
        assert (await client.get(asset)).status_code == 200, asset
    error(await client.get("/static/../api/app.py"), "ENDPOINT_NOT_FOUND", 404)
    # Every module is fetched at once (modulepreload), not one level of imports at a time.
    modules = sorted(p.name for p in (Path(ui.__file__).parent / "static" / "js").glob("*.js"))
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', index.text)
    assert sorted([*preloaded, "main.js"]) == modules
    for module in preloaded:
        assert (await client.get(f"/static/js/{module}")).status_code == 200, module


async def test_csv_download_defuses_formulas_and_keeps_numbers(client) -> None:
    """OWASP's advice on CSV injection: a cell a spreadsheet would read as a formula (it
    begins with =, +, -, @, a tab or a carriage return) gets a leading single quote and
    quotes; numbers, negative ones included, stay numbers."""
    exp = await new_experiment(client)
    run = await new_run(
        client,
        exp,
        run_name='=HYPERLINK("http://evil", "x")',
        user_id="@SUM(1+1)",
        tags=[
            {"key": "mlflow.source.type", "value": "+cmd|' /C calc'!A0"},
            {"key": "mlflow.source.name", "value": "\tindented"},
        ],
    )
    params = {
        "a_negative": "-0.5",
        "b_exponent": "+1e-3",
        "c_minus_formula": "-1+2",
        "d_carriage": "\rreturn",
        "e_plain": "plain, with a comma",
        "f_at": "@",
    }
    await _log(
        client,
        run,
        params=[{"key": k, "value": v} for k, v in params.items()],
        metrics=[
            {"key": "loss", "value": -0.5, "timestamp": 1, "step": 0},
            {"key": "low", "value": "-Infinity", "timestamp": 1, "step": 0},
        ],
    )
    response = await client.get(f"{TL}/runs/export-csv", params={"experiment_ids": [exp]})
    assert response.status_code == 200, response.text
    header, row = list(csv.reader(io.StringIO(response.text)))
    cells = dict(zip(header, row, strict=True))
    assert cells["Name"] == '\'=HYPERLINK("http://evil", "x")'
    assert cells["User"] == "'@SUM(1+1)"
    assert cells["Source Type"] == "'+cmd|' /C calc'!A0"
    assert cells["Source Name"] == "'\tindented"
    assert cells["params.a_negative"] == "-0.5"
    assert cells["params.b_exponent"] == "+1e-3"
    assert cells["params.c_minus_formula"] == "'-1+2"
    assert cells["params.d_carriage"] == "'\rreturn"
    assert cells["params.e_plain"] == "plain, with a comma"
    assert cells["params.f_at"] == "'@"
    assert cells["metrics.loss"] == "-0.5" and cells["metrics.low"] == "-Infinity"
    # On the wire: a defused cell is quoted; a number is bare.
    line = response.text.split("\n")[1]  # a cell holds a carriage return
    assert ',"\'@SUM(1+1)",' in line and ",-0.5," in line and line.endswith(",-0.5,-Infinity")


async def test_csv_download_pages_resume_where_the_last_ended(client, monkeypatch) -> None:
    from trackledger.api import browse as browse_api
    from trackledger.projections.sql_reads import SqlReadModel

    monkeypatch.setattr(browse_api, "CSV_PAGE", 3)
    resumes = []
    searched = SqlReadModel.search_runs

    async def spied(self, **kwargs):
        resumes.append(kwargs.get("resume"))
        return await searched(self, **kwargs)

    monkeypatch.setattr(SqlReadModel, "search_runs", spied)
    exp = await new_experiment(client)
    for i in range(10):
        run_id = await new_run(client, exp, run_name=f"r{i}", start_time=1000 + i % 3)
        metric = {"key": "acc", "value": (i % 4) / 2, "timestamp": 1, "step": 0}
        await _log(client, run_id, metrics=[metric])
    order = {"experiment_ids": [exp], "order_by": ["metrics.acc DESC"]}
    whole = await ok(await post(client, "runs/search", order))
    resumes.clear()
    response = await client.get(f"{TL}/runs/export-csv", params=order)
    rows = list(csv.reader(io.StringIO(response.text)))
    assert [r[0] for r in rows[1:]] == [r["info"]["run_id"] for r in whole["runs"]]
    assert len(resumes) == 4 and resumes[0] is None and all(resumes[1:])
