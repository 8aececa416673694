"""The OpenAPI document describes every route, and schemathesis, generating requests from
it against a real server, never gets a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests import loopback
from tests.server.process import ServerProcess
from trackledger.api.app import create_app
from trackledger.api.openapi import document, operations

pytestmark = [pytest.mark.slow]


def test_every_api_route_is_in_the_document():
    app = create_app(lambda: None)  # type: ignore[arg-type, return-value]
    paths = document(app.routes)["paths"]
    for method, path, _ in operations(app.routes):
        if path.startswith("/ajax-api/"):
            continue
        assert method.lower() in paths[path.replace(":path}", "}")], (method, path)
    search = paths["/api/2.0/mlflow/runs/search"]["post"]
    body = search["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SearchRunsRequest"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    process = ServerProcess(workdir).start()
    # Something to find: an experiment and a run with data.
    base = f"{process.url}/api/2.0/mlflow"
    run = loopback.post(f"{base}/runs/create", json={"experiment_id": "0"}).json()
    run_id = run["run"]["info"]["run_id"]
    point = {"key": "m", "value": 1, "timestamp": 1, "step": 1}
    loopback.post(f"{base}/runs/log-batch", json={"run_id": run_id, "metrics": [point]})
    yield process
    process.stop()


def _operations(server: ServerProcess):
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    for result in loaded.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/2.0/trackledger/admin/"):
            yield operation


@pytest.mark.timeout(600)
def test_no_request_the_document_allows_gets_a_500(server: ServerProcess):
    """schemathesis' pytest plugin does not run on this pytest, so the cases are drawn
    with hypothesis directly: 15 per operation, derandomized (the same every run)."""
    failures: list[str] = []
    for operation in _operations(server):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            response = case.call(base_url=server.url, timeout=30)
            if response.status_code == 500:  # 501 (not implemented) and 503 are answers
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        fuzz()
    assert not failures, "\n".join(failures[:20])
