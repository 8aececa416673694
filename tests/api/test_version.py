"""/version answers the MLflow API version; trackledger's own version has its endpoint."""

from __future__ import annotations

from packaging.version import Version

from trackledger import MLFLOW_API_VERSION, __version__


async def test_version_answers_the_mlflow_api_version_the_client_gates_features_on(client):
    response = await client.get("/version")
    assert response.status_code == 200
    assert response.text == MLFLOW_API_VERSION
    # The client logs spans only to servers it believes are 3.4 or later.
    assert Version(response.text) >= Version("3.4")


async def test_trackledger_version_endpoint(client):
    response = await client.get("/api/2.0/trackledger/version")
    assert response.status_code == 200
    assert response.json() == {"version": __version__, "mlflow_api_version": MLFLOW_API_VERSION}
