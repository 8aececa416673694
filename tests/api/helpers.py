"""Small request helpers for API tests."""

from __future__ import annotations

from typing import Any

import httpx

API = "/api/2.0/mlflow"


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], **kw: Any
) -> httpx.Response:
    return await client.post(f"{API}/{path}", json=body, **kw)


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(f"{API}/{path}", params=params)


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error(response: httpx.Response, code: str, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    message: str = body["message"]
    return message


async def new_experiment(client: httpx.AsyncClient, name: str = "exp") -> str:
    body = await ok(await post(client, "experiments/create", {"name": name}))
    experiment_id: str = body["experiment_id"]
    return experiment_id


async def new_run(client: httpx.AsyncClient, experiment_id: str, **fields: Any) -> str:
    body = await ok(
        await post(
            client, "runs/create", {"experiment_id": experiment_id, "start_time": 1000, **fields}
        )
    )
    run_id: str = body["run"]["info"]["run_id"]
    return run_id
