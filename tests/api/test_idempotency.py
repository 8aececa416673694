from __future__ import annotations

import asyncio

from tests.api.helpers import error, new_experiment, new_run, ok, post


async def test_retried_request_appends_once_and_returns_the_first_answer(client, events):
    exp_id = await new_experiment(client)
    headers = {"Idempotency-Key": "create-1"}
    body = {"experiment_id": exp_id, "start_time": 1}
    before = await events()
    first = await ok(await post(client, "runs/create", body, headers=headers))
    second = await ok(await post(client, "runs/create", body, headers=headers))
    assert first == second
    assert await events() == before + 1


async def test_retry_after_more_writes_still_returns_the_first_answer(client, events):
    run_id = await new_run(client, await new_experiment(client))
    headers = {"Idempotency-Key": "update-1"}
    first = await ok(
        await post(client, "runs/update", {"run_id": run_id, "status": "FINISHED"}, headers=headers)
    )
    await ok(await post(client, "runs/update", {"run_id": run_id, "run_name": "later"}))
    before = await events()
    again = await ok(
        await post(client, "runs/update", {"run_id": run_id, "status": "FINISHED"}, headers=headers)
    )
    assert again == first
    assert await events() == before


async def test_concurrent_retries_append_once(client, events):
    run_id = await new_run(client, await new_experiment(client))
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": i, "timestamp": i} for i in range(100)],
    }
    before = await events()
    responses = await asyncio.gather(
        *(
            post(client, "runs/log-batch", body, headers={"Idempotency-Key": "batch-7"})
            for _ in range(20)
        )
    )
    assert all(r.status_code == 200 for r in responses)
    assert await events() == before + 1


async def test_same_key_with_another_body_is_refused(client, events):
    run_id = await new_run(client, await new_experiment(client))
    headers = {"Idempotency-Key": "k"}
    await ok(
        await post(
            client,
            "runs/log-parameter",
            {"run_id": run_id, "key": "a", "value": "1"},
            headers=headers,
        )
    )
    before = await events()
    response = await post(
        client, "runs/log-parameter", {"run_id": run_id, "key": "b", "value": "2"}, headers=headers
    )
    assert "Idempotency-Key" in error(response, "INVALID_PARAMETER_VALUE", 422)
    assert await events() == before


async def test_rejected_request_does_not_burn_its_key(client):
    exp_id = await new_experiment(client)
    headers = {"Idempotency-Key": "later-ok"}
    error(
        await post(client, "runs/create", {"experiment_id": "77"}, headers=headers),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    # A failed request stored nothing, so the key answers nothing stale.
    error(
        await post(client, "runs/create", {"experiment_id": "77"}, headers=headers),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert exp_id


async def test_overlong_key_is_refused(client):
    response = await post(
        client, "experiments/create", {"name": "x"}, headers={"Idempotency-Key": "k" * 300}
    )
    error(response, "INVALID_PARAMETER_VALUE", 400)
