"""The error edge: whatever fails, and wherever, the client gets MLflow's error body
``{"error_code", "message"}`` with the status MLflow's client expects; an unexpected
failure is a JSON 500 with a request id, and its traceback goes only to the server log."""

from __future__ import annotations

import logging

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.api.helpers import API, error
from trackledger.api.errors import ApiError
from trackledger.eventlog import errors as domain
from trackledger.services.artifact_store import PathConflict, UnsafePath

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"{API}/runs/nope"),
        ("POST", "/ajax-api/2.0/mlflow/nope"),
        ("GET", "/api/2.0/trackledger/nope"),
        ("GET", "/api/2.0/nope"),
        ("GET", "/nope"),
        ("GET", "/static/nope.js"),
        ("DELETE", "/api/3.0/mlflow/nope"),
    ],
)
async def test_unknown_routes_are_endpoint_not_found(client, method, path):
    message = error(await client.request(method, path), "ENDPOINT_NOT_FOUND", 404)
    assert path in message


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("GET", f"{API}/runs/create", "POST"),
        ("POST", f"{API}/runs/get", "GET, HEAD"),
        ("PUT", "/ajax-api/2.0/mlflow/experiments/search", "GET, HEAD, POST"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/version", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("POST", "/static/index.html", "GET, HEAD"),
        ("PATCH", f"{ARTIFACTS}/1/x.txt", "DELETE, GET, HEAD, PUT"),
        ("POST", "/api/2.0/trackledger/events", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client, method, path, allowed):
    response = await client.request(method, path, json={})
    message = error(response, "ENDPOINT_NOT_FOUND", 405)
    assert method in message and path in message
    assert sorted(response.headers["allow"].split(", ")) == allowed.split(", ")


def _raises(exc: Exception):
    async def handler(request: Request) -> Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    "exc, code, status",
    [
        (ApiError("INVALID_PARAMETER_VALUE", "bad"), "INVALID_PARAMETER_VALUE", 400),
        (ApiError("NOT_IMPLEMENTED", "no"), "NOT_IMPLEMENTED", 501),
        (domain.InvalidInput("bad"), "INVALID_PARAMETER_VALUE", 400),
        (domain.InactiveRun("r", "deleted"), "INVALID_PARAMETER_VALUE", 400),
        (domain.ParamChanged("changed"), "INVALID_PARAMETER_VALUE", 400),
        (domain.IdempotencyKeyReused("k"), "INVALID_PARAMETER_VALUE", 422),
        (domain.NotFound("gone"), "RESOURCE_DOES_NOT_EXIST", 404),
        (domain.AlreadyExists("twice"), "RESOURCE_ALREADY_EXISTS", 400),
        (domain.NameConflict("taken"), "BAD_REQUEST", 400),
        (domain.InvalidState("state"), "INVALID_STATE", 500),
        (domain.StoreUnavailable("down"), "TEMPORARILY_UNAVAILABLE", 503),
        (UnsafePath("Invalid path"), "INVALID_PARAMETER_VALUE", 400),
        (PathConflict("Invalid path"), "INVALID_PARAMETER_VALUE", 400),
        (HTTPException(400, "Bad thing"), "BAD_REQUEST", 400),
        (HTTPException(401, "Who"), "UNAUTHENTICATED", 401),
        (HTTPException(403, "No"), "PERMISSION_DENIED", 403),
        (HTTPException(413, "Too big"), "BAD_REQUEST", 413),
        (HTTPException(503, "Later"), "TEMPORARILY_UNAVAILABLE", 503),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
async def test_each_error_class_maps_to_its_mlflow_code(edge_app, edge_client, exc, code, status):
    edge_app.router.routes.insert(0, Route(f"{API}/raises", _raises(exc), methods=["POST"]))
    message = error(await edge_client.post(f"{API}/raises", json={}), code, status)
    assert message == (exc.detail if isinstance(exc, HTTPException) else str(exc))


@pytest.mark.parametrize("path", [f"{API}/boom", "/api/2.0/trackledger/boom", "/boom"])
async def test_an_unexpected_error_is_a_json_500_with_a_request_id(
    edge_app, edge_client, caplog, path
):
    secret = "connection string postgresql://admin:hunter2@db"
    edge_app.router.routes.insert(0, Route(path, _raises(RuntimeError(secret))))
    with caplog.at_level(logging.ERROR, logger="trackledger.api"):
        response = await edge_client.get(path)
    error(response, "INTERNAL_ERROR", 500)
    assert response.headers["content-type"] == "application/json"
    request_id = response.headers["x-request-id"]
    body = response.json()
    assert body["request_id"] == request_id and request_id in body["message"]
    assert secret not in response.text and "Traceback" not in response.text
    (record,) = [r for r in caplog.records if r.name == "trackledger.api"]
    assert request_id in record.getMessage() and path in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    # Each failure has its own id.
    again = await edge_client.get(path)
    assert again.headers["x-request-id"] != request_id
