"""An app with authentication on, and clients that call it as one user or another."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.helpers import ok
from trackledger.api.app import create_app
from trackledger.first_admin import ADMIN_PASSWORD, ADMIN_USERNAME, ensure_admin
from trackledger.services.artifact_store import LocalArtifactStore
from trackledger.services.backends import Backend

ADMIN = ("admin", "admin-password-1")
PASSWORD = "a-long-password"
ML = "/api/2.0/mlflow"
ML3 = "/api/3.0/mlflow"
TL = "/api/2.0/trackledger"


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def make_app(backend: Backend, tmp_path: Path, **options: Any) -> Starlette:
    async def given() -> Backend:
        return backend

    app = create_app(
        given, artifact_store=LocalArtifactStore(tmp_path / "artifacts"), auth=True, **options
    )
    app.state.backend = backend  # ASGITransport does not run the lifespan
    return app


def client_of(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


@pytest.fixture
async def auth_app(backend: Backend, tmp_path: Path) -> Starlette:
    await ensure_admin(backend, {ADMIN_USERNAME: ADMIN[0], ADMIN_PASSWORD: ADMIN[1]})
    return make_app(backend, tmp_path)


@pytest.fixture
async def closed_app(backend: Backend, tmp_path: Path) -> Starlette:
    """Authentication on, and a user sees only what they are granted (NO_PERMISSIONS by
    default); the first admin exists."""
    await ensure_admin(backend, {ADMIN_USERNAME: ADMIN[0], ADMIN_PASSWORD: ADMIN[1]})
    return make_app(backend, tmp_path, auth_default_permission="NO_PERMISSIONS")


@pytest.fixture
async def admin(auth_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(auth_app, basic(*ADMIN)) as http:
        yield http


@pytest.fixture
async def anonymous(auth_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(auth_app) as http:
        yield http


async def add_user(admin: httpx.AsyncClient, username: str) -> dict[str, Any]:
    response = await admin.post(
        "/api/2.0/mlflow/users/create", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


async def grant(
    admin: httpx.AsyncClient,
    username: str,
    resource_id: str,
    permission: str,
    resource_type: str = "experiment",
) -> None:
    response = await admin.post(
        "/api/3.0/mlflow/users/permissions/grant",
        json={
            "username": username,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "permission": permission,
        },
    )
    assert response.status_code == 200, response.text


def as_user(app, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    return client_of(app, basic(username, password))


async def create_experiment(http: httpx.AsyncClient, name: str) -> str:
    body = await ok(await http.post(f"{ML}/experiments/create", json={"name": name}))
    experiment_id: str = body["experiment_id"]
    return experiment_id


async def create_run(http: httpx.AsyncClient, experiment_id: str, **fields) -> str:
    body = await ok(
        await http.post(f"{ML}/runs/create", json={"experiment_id": experiment_id, **fields})
    )
    run_id: str = body["run"]["info"]["run_id"]
    return run_id


async def admin_check(app, username, resource_type, resource_id):
    async with as_user(app, *ADMIN) as admin:
        return await admin.get(
            f"{ML3}/users/permissions/get",
            params={
                "username": username,
                "resource_type": resource_type,
                "resource_id": resource_id,
            },
        )


async def grant_as_admin(app, username, experiment_id, permission):
    async with as_user(app, *ADMIN) as admin:
        await grant(admin, username, experiment_id, permission)
