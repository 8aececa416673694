"""Soft delete, the restore window, bulk delete/restore by time, purge, run trees."""

from __future__ import annotations

import pytest

from tests.api.bulk import create_runs_in_bulk
from tests.api.helpers import API, error, get, new_experiment, new_run, ok, post
from trackledger.services.gc import collect, parse_duration

DAY = 86_400_000


async def names(client, experiment_id, view="ACTIVE_ONLY"):
    body = {"experiment_ids": [experiment_id], "run_view_type": view, "max_results": 50000}
    runs = (await ok(await post(client, "runs/search", body))).get("runs", [])
    return sorted(r["info"]["run_name"] for r in runs)


async def tree(client, exp_id):
    """root -> a -> a1, and root -> b (created in that order)."""
    root = await new_run(client, exp_id, run_name="root", start_time=1000)

    async def child(name, parent, start):
        tags = [{"key": "mlflow.parentRunId", "value": parent}]
        return await new_run(client, exp_id, run_name=name, start_time=start, tags=tags)

    a = await child("a", root, 1001)
    a1 = await child("a1", a, 1002)
    b = await child("b", root, 1003)
    return root, a, a1, b


async def test_delete_keeps_mlflow_semantics_unless_descendants_are_asked_for(client):
    exp_id = await new_experiment(client)
    root, a, _a1, _b = await tree(client, exp_id)
    await ok(await post(client, "runs/delete", {"run_id": a}))
    assert await names(client, exp_id) == ["a1", "b", "root"]
    await ok(await post(client, "runs/restore", {"run_id": a}))
    await ok(await post(client, "runs/delete", {"run_id": root, "include_descendants": True}))
    assert await names(client, exp_id) == []
    assert await names(client, exp_id, "DELETED_ONLY") == ["a", "a1", "b", "root"]
    # Restoring the parent restores the descendants deleted with it.
    await ok(await post(client, "runs/restore", {"run_id": root}))
    assert await names(client, exp_id) == ["a", "a1", "b", "root"]
    assert await names(client, exp_id, "DELETED_ONLY") == []


async def test_restoring_a_parent_leaves_runs_deleted_on_their_own(client):
    exp_id = await new_experiment(client)
    root, _a, _a1, b = await tree(client, exp_id)
    await ok(await post(client, "runs/delete", {"run_id": b}))
    await ok(await post(client, "runs/delete", {"run_id": root, "include_descendants": True}))
    await ok(await post(client, "runs/restore", {"run_id": root}))
    assert await names(client, exp_id, "DELETED_ONLY") == ["b"]


async def test_run_tree_endpoint(client):
    exp_id = await new_experiment(client)
    root, a, a1, _b = await tree(client, exp_id)
    body = await ok(await client.get("/api/2.0/trackledger/runs/tree", params={"run_id": a1}))
    assert body["root"] == root and body["path"] == [root, a, a1]
    top = body["tree"]
    assert top["run_name"] == "root"
    assert [c["run_name"] for c in top["children"]] == ["a", "b"]
    assert [c["run_name"] for c in top["children"][0]["children"]] == ["a1"]
    response = await client.get("/api/2.0/trackledger/runs/tree", params={"run_id": "f" * 32})
    error(response, "RESOURCE_DOES_NOT_EXIST", 404)


async def test_bulk_delete_and_restore_by_time(client, clock, events):
    exp_id = await new_experiment(client)
    for i in range(12):
        await new_run(client, exp_id, run_name=f"r{i:02d}", start_time=1000 + i)
    before = await names(client, exp_id)
    path = "databricks/runs/delete-runs"
    # Oldest first, at most max_runs, only those created at or before the timestamp.
    deleted = await ok(
        await post(
            client, path, {"experiment_id": exp_id, "max_timestamp_millis": 1009, "max_runs": 4}
        )
    )
    assert deleted == {"runs_deleted": 4}
    assert await names(client, exp_id, "DELETED_ONLY") == ["r00", "r01", "r02", "r03"]
    clock.advance(1000)
    mark = clock.now
    deleted = await ok(
        await post(client, path, {"experiment_id": exp_id, "max_timestamp_millis": 1009})
    )
    assert deleted == {"runs_deleted": 6}
    assert await names(client, exp_id) == ["r10", "r11"]
    # Restore what was deleted at or after the mark: the second call's runs only.
    restore = "databricks/runs/restore-runs"
    restored = await ok(
        await post(client, restore, {"experiment_id": exp_id, "min_timestamp_millis": mark})
    )
    assert restored == {"runs_restored": 6}
    restored = await ok(
        await post(client, restore, {"experiment_id": exp_id, "min_timestamp_millis": 0})
    )
    assert restored == {"runs_restored": 4}
    assert await names(client, exp_id) == before
    start = await events()
    for bad in ({"max_runs": 10001}, {"max_runs": 0}, {"max_runs": "x"}):
        body = {"experiment_id": exp_id, "max_timestamp_millis": 1, **bad}
        error(await post(client, path, body), "INVALID_PARAMETER_VALUE", 400)
    error(await post(client, path, {"experiment_id": exp_id}), "INVALID_PARAMETER_VALUE", 400)
    error(
        await post(client, path, {"experiment_id": "999", "max_timestamp_millis": 1}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert await events() == start


# The one volume test here: 12,500 runs deleted and restored through the bulk endpoints
# (past the 10,000 one call may take), five searches of all of them and a full verify (a
# replay of 37,500 events). At 25,000 runs it took 34 s on SQLite and 89 s on PostgreSQL on
# a 2-core machine at load 12: it gets 300 s, so it fails for what it checks and not for
# the machine's load.
@pytest.mark.timeout(300)
async def test_bulk_delete_of_12500_runs_and_restore_gives_back_the_same_search(
    client, backend, clock
):
    exp_id = await new_experiment(client)
    # Loaded through the log in bulk: the API path is tested above, here the volume matters.
    await create_runs_in_bulk(backend, clock, exp_id, 12_500)
    query = {"experiment_ids": [exp_id], "max_results": 50000, "order_by": ["start_time"]}
    before = await ok(await post(client, "runs/search", query))
    counts = []
    for _ in range(2):
        body = {"experiment_id": exp_id, "max_timestamp_millis": 10**13, "max_runs": 10000}
        counts.append(
            (await ok(await post(client, "databricks/runs/delete-runs", body)))["runs_deleted"]
        )
    assert counts == [10000, 2500]
    assert await ok(await post(client, "runs/search", query)) == {}
    for view, expected in (("DELETED_ONLY", 12500), ("ALL", 12500)):
        body = {**query, "run_view_type": view}
        assert len((await ok(await post(client, "runs/search", body)))["runs"]) == expected
    restored = 0
    while True:
        body = {"experiment_id": exp_id, "min_timestamp_millis": 0, "max_runs": 10000}
        n = (await ok(await post(client, "databricks/runs/restore-runs", body)))["runs_restored"]
        if not n:
            break
        restored += n
    assert restored == 12500
    assert await ok(await post(client, "runs/search", query)) == before
    assert await backend.verify() == {}


async def test_restore_window_and_purge(client, backend, clock):
    exp_id = await new_experiment(client)
    root, a, a1, b = await tree(client, exp_id)
    kept = await new_run(client, exp_id, run_name="kept")
    await ok(
        await post(
            client, "runs/log-metric", {"run_id": a1, "key": "m", "value": 1, "timestamp": 1}
        )
    )
    await ok(await post(client, "runs/delete", {"run_id": root, "include_descendants": True}))
    await ok(await post(client, "runs/delete", {"run_id": kept}))
    clock.advance(29 * DAY)
    await ok(await post(client, "runs/restore", {"run_id": kept}))
    clock.advance(2 * DAY)  # the tree was deleted 31 days ago
    message = error(
        await post(client, "runs/restore", {"run_id": root}), "INVALID_PARAMETER_VALUE", 400
    )
    assert "past the restore window" in message
    done = await collect(backend, 30 * DAY)
    assert (done.runs, done.experiments) == (4, 0)
    # Check the purged runs are gone, cannot come back, and the log no longer holds them.
    for run_id in (root, a, a1, b):
        error(await get(client, "runs/get", run_id=run_id), "RESOURCE_DOES_NOT_EXIST", 404)
        message = error(
            await post(client, "runs/restore", {"run_id": run_id}), "RESOURCE_DOES_NOT_EXIST", 404
        )
        assert "purged" in message
        stream = await backend.store.read_stream(f"run/{run_id}")
        assert [e.type for e in stream] == ["run.purged"]
    assert (await ok(await get(client, "metrics/get-history", run_id=a1, metric_key="m"))) == {}
    assert await names(client, exp_id, "ALL") == ["kept"]
    assert await backend.verify() == {}
    assert await collect(backend, 30 * DAY) == type(done)(0, 0)


async def test_purge_never_orphans_a_child(client, backend, clock):
    exp_id = await new_experiment(client)
    root, a, a1, _b = await tree(client, exp_id)
    await ok(await post(client, "runs/delete", {"run_id": root}))  # MLflow semantics: root only
    clock.advance(31 * DAY)
    done = await collect(backend, 30 * DAY)
    assert done.runs == 0  # root still has live descendants
    body = await ok(await client.get("/api/2.0/trackledger/runs/tree", params={"run_id": a1}))
    assert body["path"] == [root, a, a1]


async def test_deleted_experiment_is_purged_with_its_runs(client, backend, clock):
    exp_id = await new_experiment(client, "doomed")
    for i in range(3):
        await new_run(client, exp_id, run_name=f"r{i}")
    await ok(await post(client, "experiments/delete", {"experiment_id": exp_id}))
    clock.advance(31 * DAY)
    error(
        await post(client, "experiments/restore", {"experiment_id": exp_id}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    response = await client.post("/api/2.0/trackledger/admin/gc", json={"older_than": "30d"})
    assert (await ok(response)) == {"runs_purged": 3, "experiments_purged": 1}
    error(
        await get(client, "experiments/get", experiment_id=exp_id), "RESOURCE_DOES_NOT_EXIST", 404
    )
    # The name is free again once the experiment is purged.
    assert await new_experiment(client, "doomed") != exp_id
    assert await backend.verify() == {}


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30d", 30 * DAY), ("1d2h", DAY + 7_200_000), ("90s", 90_000), ("0.5h", 1_800_000)],
)
def test_durations(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "30", "d", "1x", "abc"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


async def test_gc_endpoint_rejects_bad_duration(client):
    response = await client.post("/api/2.0/trackledger/admin/gc", json={"older_than": "soon"})
    error(response, "INVALID_PARAMETER_VALUE", 400)
    assert API
