"""A trace's lifecycle: deleted traces are hidden and restorable for the retention period,
then purged for good with a tombstone; the history of a trace from the log."""

from __future__ import annotations

from tests.api.helpers import API, error, new_experiment, ok
from tests.api.trace_helpers import API3, found_ids, send_spans, sent, span, start_trace, trace_id

DAY = 86_400_000
EXT = "/api/2.0/trackledger"


async def _traces(client, exp: str, *numbers: int) -> None:
    for n in numbers:
        sent(await send_spans(client, exp, [span(n, 1), span(n, 2, 1)]))
        await ok(await start_trace(client, trace_id(n), exp, tags={"n": str(n)}))


async def _delete(client, exp: str, *numbers: int) -> None:
    ids = [trace_id(n) for n in numbers]
    body = {"experiment_id": exp, "request_ids": ids}
    assert (await ok(await client.post(f"{API3}/traces/delete-traces", json=body))) == {
        "traces_deleted": len(ids)
    }


async def test_deleted_traces_are_hidden_and_restorable(client, backend):
    exp = await new_experiment(client)
    await _traces(client, exp, 1, 2)
    await _delete(client, exp, 1)
    assert await found_ids(client, [exp]) == [trace_id(2)]
    error(await client.get(f"{API3}/traces/{trace_id(1)}"), "RESOURCE_DOES_NOT_EXIST", 404)
    restored = await ok(
        await client.post(f"{EXT}/traces/restore", json={"trace_ids": [trace_id(1), trace_id(2)]})
    )
    assert restored == {"traces_restored": 1}  # the active one stays as it is
    assert sorted(await found_ids(client, [exp])) == [trace_id(1), trace_id(2)]
    spans = (await ok(await client.get(f"{API3}/traces/get", params={"trace_id": trace_id(1)})))[
        "trace"
    ]["spans"]
    assert len(spans) == 2
    assert await backend.verify() == {}


async def test_purge_removes_traces_for_good(client, backend, clock):
    exp = await new_experiment(client)
    await _traces(client, exp, 1, 2)
    await _delete(client, exp, 1)
    clock.advance(10 * DAY)
    error(
        await client.post(f"{EXT}/traces/restore", json={"trace_ids": ["tr-unknown"]}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    clock.advance(25 * DAY)
    # Past the restore window, not yet purged: it cannot come back.
    error(
        await client.post(f"{EXT}/traces/restore", json={"trace_ids": [trace_id(1)]}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    done = await ok(await client.post(f"{EXT}/admin/gc", json={}))
    assert done["traces_purged"] == 1
    history = await ok(await client.get(f"{EXT}/traces/history", params={"trace_id": trace_id(1)}))
    assert [e["type"] for e in history["events"]] == ["trace.purged"]
    message = error(
        await client.post(f"{EXT}/traces/restore", json={"trace_ids": [trace_id(1)]}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert "purged" in message
    # Its id cannot be written again: the tombstone stays the stream's last event.
    error(await send_spans(client, exp, [span(1, 1)]), "INVALID_PARAMETER_VALUE", 400)
    error(await start_trace(client, trace_id(1), exp), "INVALID_PARAMETER_VALUE", 400)
    assert await found_ids(client, [exp]) == [trace_id(2)]
    assert await backend.verify() == {}


async def test_purging_an_experiment_purges_its_traces(client, backend, clock):
    exp = await new_experiment(client)
    keep = await new_experiment(client, "keep")
    await _traces(client, exp, 1, 2)
    await _traces(client, keep, 3)
    await ok(await client.post(f"{API}/experiments/delete", json={"experiment_id": exp}))
    clock.advance(31 * DAY)
    done = await ok(await client.post(f"{EXT}/admin/gc", json={}))
    assert done["experiments_purged"] == 1 and done["traces_purged"] == 2
    for n in (1, 2):
        history = await ok(
            await client.get(f"{EXT}/traces/history", params={"trace_id": trace_id(n)})
        )
        assert [e["type"] for e in history["events"]] == ["trace.purged"]
    assert await found_ids(client, [keep]) == [trace_id(3)]
    assert await backend.verify() == {}


async def test_trace_history_summarizes_span_batches(client):
    exp = await new_experiment(client)
    await _traces(client, exp, 1)
    await ok(
        await client.patch(f"{API3}/traces/{trace_id(1)}/tags", json={"key": "k", "value": "v"})
    )
    history = await ok(await client.get(f"{EXT}/traces/history", params={"trace_id": trace_id(1)}))
    kinds = [e["type"] for e in history["events"]]
    assert kinds == ["trace.spans_logged", "trace.info_logged", "trace.tagged"]
    assert history["events"][0]["data"]["spans"]["count"] == 2
    expanded = await ok(
        await client.get(
            f"{EXT}/traces/history", params={"trace_id": trace_id(1), "expand": "true"}
        )
    )
    assert len(expanded["events"][0]["data"]["spans"]) == 2
