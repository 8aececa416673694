"""History, as-of reads and the event feed: the log as users read it."""

from __future__ import annotations

import asyncio
import base64
import time

from tests.api.helpers import error, get, new_experiment, new_run, ok, post
from tests.conftest import count_events, stored_positions

TL = "/api/2.0/trackledger"
ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}


async def scripted(client) -> tuple[str, list[dict]]:
    """A run through a scripted sequence; after each step, what runs/get answered."""
    exp_id = await new_experiment(client)
    run_id = await new_run(client, exp_id, run_name="audited")
    snapshots = [(await ok(await get(client, "runs/get", run_id=run_id)))["run"]]
    steps = [
        ("runs/log-parameter", {"key": "lr", "value": "0.1"}),
        (
            "runs/log-batch",
            {
                "metrics": [
                    {"key": "loss", "value": v / 10, "timestamp": v, "step": v} for v in range(5)
                ]
            },
        ),
        ("runs/set-tag", {"key": "stage", "value": "dev"}),
        ("runs/set-tag", {"key": "stage", "value": "prod"}),
        ("runs/delete-tag", {"key": "stage"}),
        ("runs/update", {"status": "FINISHED", "end_time": 99}),
        ("runs/delete", {}),
        ("runs/restore", {}),
    ]
    for path, body in steps:
        await ok(await post(client, path, {"run_id": run_id, **body}, headers=ALICE))
        snapshots.append((await ok(await get(client, "runs/get", run_id=run_id)))["run"])
    return run_id, snapshots


async def test_history_lists_the_scripted_events_in_order(client):
    run_id, _ = await scripted(client)
    body = await ok(await client.get(f"{TL}/runs/history", params={"run_id": run_id}))
    assert [e["type"] for e in body["events"]] == [
        "run.created",
        "run.params_logged",
        "run.metrics_logged",
        "run.tagged",
        "run.tagged",
        "run.untagged",
        "run.updated",
        "run.deleted",
        "run.restored",
    ]
    positions = [e["position"] for e in body["events"]]
    assert positions == sorted(positions)
    assert [e["actor"] for e in body["events"]][1:] == ["alice"] * 8
    metrics = body["events"][2]["data"]["metrics"]
    assert metrics == {"count": 5, "keys": {"loss": 5}, "steps": [0, 4]}
    assert body["events"][1]["data"]["params"] == {"lr": "0.1"}
    expanded = await ok(
        await client.get(f"{TL}/runs/history", params={"run_id": run_id, "expand": "true"})
    )
    assert len(expanded["events"][2]["data"]["metrics"]["points"]) == 5
    # Pages of three follow each other without gaps.
    seen, token = [], None
    while True:
        params = {"run_id": run_id, "max_results": 3, **({"page_token": token} if token else {})}
        page = await ok(await client.get(f"{TL}/runs/history", params=params))
        seen.extend(e["position"] for e in page["events"])
        token = page.get("next_page_token")
        if token is None:
            break
    assert seen == positions


async def test_experiment_history(client):
    exp_id = await new_experiment(client, "named")
    await ok(
        await post(client, "experiments/update", {"experiment_id": exp_id, "new_name": "renamed"})
    )
    body = await ok(await client.get(f"{TL}/experiments/history", params={"experiment_id": exp_id}))
    assert [e["type"] for e in body["events"]] == ["experiment.created", "experiment.renamed"]
    assert body["events"][1]["data"]["name"] == "renamed"


async def test_as_of_each_step_reproduces_that_steps_runs_get(client):
    run_id, snapshots = await scripted(client)
    events = (await ok(await client.get(f"{TL}/runs/history", params={"run_id": run_id})))["events"]
    assert len(events) == len(snapshots)
    for event, snapshot in zip(events, snapshots, strict=True):
        for as_of in (event["position"], event["time"]):
            body = await ok(
                await client.get(f"{TL}/runs/get", params={"run_id": run_id, "as_of": as_of})
            )
            assert body["run"] == snapshot, (event["type"], as_of)
    before = {"run_id": run_id, "as_of": events[0]["position"] - 1}
    error(await client.get(f"{TL}/runs/get", params=before), "RESOURCE_DOES_NOT_EXIST", 404)
    error(
        await client.get(f"{TL}/runs/get", params={"run_id": run_id}),
        "INVALID_PARAMETER_VALUE",
        400,
    )


async def caught_up_feed(client, backend) -> dict:
    """The feed's first page once it shows every event of the table. On PostgreSQL the feed
    stops below any transaction that may still append to the store, so a first read could
    miss this test's own events while one is open (before the feed was scoped to its store,
    any other test's transaction on the server did that)."""
    deadline = time.monotonic() + 60
    while True:
        page = await ok(await client.get(f"{TL}/events", params={"limit": 10000}))
        if len(page.get("events", [])) == await count_events(backend):
            return page
        assert time.monotonic() < deadline, (
            "the feed never caught up with the table: is an appending transaction held open?"
        )
        await asyncio.sleep(0.1)


async def test_event_feed_long_polls_for_news(client, backend):
    exp_id = await new_experiment(client)
    first = await caught_up_feed(client, backend)
    cursor = first["next_cursor"]
    assert await ok(await client.get(f"{TL}/events", params={"after": cursor})) == {
        "next_cursor": cursor
    }

    async def later():
        await asyncio.sleep(0.3)
        await new_run(client, exp_id, run_name="news")

    task = asyncio.create_task(later())
    # The longest wait the feed allows: it answers as soon as the news is readable.
    params = {"after": cursor, "wait_ms": 30_000}
    body = await ok(await client.get(f"{TL}/events", params=params))
    await task
    assert [e["type"] for e in body["events"]] == ["run.created"]
    assert body["events"][0]["data"]["run_name"] == "news"
    assert body["next_cursor"] != cursor


async def test_feed_pages_cover_the_log_once(client, backend):
    exp_id = await new_experiment(client)
    for i in range(7):
        await new_run(client, exp_id, run_name=f"r{i}")
    everything = await caught_up_feed(client, backend)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"after": cursor} if cursor else {})}
        page = await ok(await client.get(f"{TL}/events", params=params))
        if "events" not in page:
            break
        seen.extend(e["position"] for e in page["events"])
        cursor = page["next_cursor"]
    assert seen == [e["position"] for e in everything["events"]]
    assert sorted(seen) == await stored_positions(backend)
