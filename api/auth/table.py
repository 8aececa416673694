"""The permission every route needs, in one table: ``"METHOD /path"`` -> rule.

Paths are the app's route templates; the UI's ``/ajax-api/`` prefix shares the rules of
``/api/``. HEAD follows GET. A route missing here is served to admins only, and
``tests/api/test_auth_routes.py`` fails until it gets a rule: new routes cannot slip through.

MLflow 3.17's meaning: read (READ and up) to see an experiment and its runs, models and
artifacts; update (EDIT and up) to change them or create runs in it; delete (MANAGE) to
delete or restore them; manage (MANAGE) to change who may do what. Searches and listings
across experiments need only a login: they leave out what the caller may not read
(``scope.py``).
"""

from __future__ import annotations

from trackledger.api.auth.rules import (
    ADMIN,
    PUBLIC,
    USER,
    OnArtifactPath,
    OnExperiment,
    OnExperimentNamed,
    OnGrantTarget,
    OnHeaderExperiment,
    OnLegacyGrant,
    OnLoggedModel,
    OnRegisteredModel,
    OnRun,
    OnRuns,
    OnTrace,
    OnTraceStart,
    Rule,
    SelfOrAdmin,
    SelfOrManager,
)
from trackledger.api.requests import (
    LogBatchRequest,
    LogMetricRequest,
    LogParamRequest,
    SetTagRequest,
)

__all__ = ["RULES", "rule_key"]

REGISTERED_MODEL = "registered_model"

ML = "/api/2.0/mlflow"
ML3 = "/api/3.0/mlflow"
TL = "/api/2.0/trackledger"
ART = "/api/2.0/mlflow-artifacts"

READ_RUN = OnRun("read")
UPDATE_RUN = OnRun("update")
SELF = SelfOrAdmin()

RULES: dict[str, Rule] = {
    # Liveness, the UI's files, what the client probes before logging in.
    "GET /health": PUBLIC,
    "GET /version": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /": PUBLIC,
    "GET /static": PUBLIC,
    f"GET {ML3}/server-info": PUBLIC,
    "GET /metrics": USER,
    # Experiments.
    f"POST {ML}/experiments/create": USER,
    f"GET {ML}/experiments/get": OnExperiment("read"),
    f"GET {ML}/experiments/get-by-name": OnExperimentNamed("read"),
    f"POST {ML}/experiments/search": USER,
    f"POST {ML}/experiments/search-datasets": USER,
    f"GET {ML}/experiments/search": USER,
    f"POST {ML}/experiments/update": OnExperiment("update"),
    f"POST {ML}/experiments/delete": OnExperiment("delete"),
    f"POST {ML}/experiments/restore": OnExperiment("delete"),
    f"POST {ML}/experiments/set-experiment-tag": OnExperiment("update"),
    f"POST {ML}/experiments/delete-experiment-tag": OnExperiment("update"),
    # Runs.
    f"POST {ML}/runs/create": OnExperiment("update", default="0"),
    f"GET {ML}/runs/get": READ_RUN,
    f"POST {ML}/runs/update": UPDATE_RUN,
    f"POST {ML}/runs/delete": OnRun("delete"),
    f"POST {ML}/runs/restore": OnRun("delete"),
    f"POST {ML}/runs/search": USER,
    f"POST {ML}/runs/log-metric": OnRun("update", body=LogMetricRequest),
    f"POST {ML}/runs/log-parameter": OnRun("update", body=LogParamRequest),
    f"POST {ML}/runs/set-tag": OnRun("update", body=SetTagRequest),
    f"POST {ML}/runs/delete-tag": UPDATE_RUN,
    f"POST {ML}/runs/log-batch": OnRun("update", body=LogBatchRequest),
    f"POST {ML}/runs/log-inputs": UPDATE_RUN,
    f"POST {ML}/runs/outputs": UPDATE_RUN,
    f"GET {ML}/metrics/get-history": READ_RUN,
    f"GET {ML}/metrics/get-history-bulk": OnRuns("read", repeated=True),
    f"GET {ML}/metrics/get-history-bulk-interval": OnRuns("read"),
    f"GET {ML}/artifacts/list": READ_RUN,
    # MLflow's web UI's own artifact routes (api/ui_artifacts.py).
    "GET /get-artifact": READ_RUN,
    "GET /model-versions/get-artifact": OnRegisteredModel("read"),
    f"POST {ML}/upload-artifact": OnRun("update", query=True),
    f"POST {ML}/databricks/runs/delete-runs": OnExperiment("delete"),
    f"POST {ML}/databricks/runs/restore-runs": OnExperiment("delete"),
    # Logged models.
    f"POST {ML}/logged-models": OnExperiment("update"),
    f"POST {ML}/logged-models/search": USER,
    f"GET {ML}/logged-models/{{model_id}}": OnLoggedModel("read"),
    f"GET {ML}/logged-models/{{model_id}}/artifacts/directories": OnLoggedModel("read"),
    f"GET {ML}/logged-models/{{model_id}}/artifacts/files": OnLoggedModel("read"),
    f"PATCH {ML}/logged-models/{{model_id}}": OnLoggedModel("update"),
    f"DELETE {ML}/logged-models/{{model_id}}": OnLoggedModel("delete"),
    f"PATCH {ML}/logged-models/{{model_id}}/tags": OnLoggedModel("update"),
    f"DELETE {ML}/logged-models/{{model_id}}/tags/{{key:path}}": OnLoggedModel("update"),
    f"POST {ML}/logged-models/{{model_id}}/params": OnLoggedModel("update"),
    # The model registry: by the model's name; creators get MANAGE.
    f"POST {ML}/registered-models/create": USER,
    f"GET {ML}/registered-models/get": OnRegisteredModel("read"),
    f"POST {ML}/registered-models/rename": OnRegisteredModel("update"),
    f"PATCH {ML}/registered-models/update": OnRegisteredModel("update"),
    f"DELETE {ML}/registered-models/delete": OnRegisteredModel("delete"),
    f"GET {ML}/registered-models/search": USER,
    f"POST {ML}/registered-models/search": USER,
    f"GET {ML}/registered-models/get-latest-versions": OnRegisteredModel("read"),
    f"POST {ML}/registered-models/get-latest-versions": OnRegisteredModel("read"),
    f"POST {ML}/registered-models/set-tag": OnRegisteredModel("update"),
    f"DELETE {ML}/registered-models/delete-tag": OnRegisteredModel("update"),
    f"POST {ML}/registered-models/alias": OnRegisteredModel("update"),
    f"DELETE {ML}/registered-models/alias": OnRegisteredModel("update"),
    f"GET {ML}/registered-models/alias": OnRegisteredModel("read"),
    f"POST {ML}/model-versions/create": OnRegisteredModel("update"),
    f"GET {ML}/model-versions/get": OnRegisteredModel("read"),
    f"PATCH {ML}/model-versions/update": OnRegisteredModel("update"),
    f"POST {ML}/model-versions/transition-stage": OnRegisteredModel("update"),
    f"DELETE {ML}/model-versions/delete": OnRegisteredModel("delete"),
    f"GET {ML}/model-versions/get-download-uri": OnRegisteredModel("read"),
    f"GET {ML}/model-versions/search": USER,
    f"POST {ML}/model-versions/search": USER,
    f"POST {ML}/model-versions/set-tag": OnRegisteredModel("update"),
    f"DELETE {ML}/model-versions/delete-tag": OnRegisteredModel("delete"),
    f"GET {TL}/registered-models/history": OnRegisteredModel("read"),
    f"GET {TL}/registered-models/get": OnRegisteredModel("read"),
    f"GET {TL}/registered-models/alias": OnRegisteredModel("read"),
    f"GET {TL}/model-versions/get": OnRegisteredModel("read"),
    # Traces: in experiments; reads of traces the caller may not read answer 404 and
    # searches leave them out (scope.py).
    f"POST {ML3}/traces": OnTraceStart(),
    f"GET {ML3}/traces/get": USER,
    f"GET {ML3}/traces/batchGet": USER,
    f"POST {ML3}/traces/batchGetInfos": USER,
    f"POST {ML3}/traces/search": USER,
    f"POST {ML3}/traces/delete-traces": OnExperiment("delete"),
    f"POST {ML3}/traces/calculate-filter-correlation": USER,
    f"POST {ML3}/traces/metrics": USER,
    f"GET {ML3}/traces/{{trace_id}}": USER,
    f"PATCH {ML3}/traces/{{trace_id}}/tags": OnTrace("update"),
    f"DELETE {ML3}/traces/{{trace_id}}/tags": OnTrace("update"),
    f"POST {ML3}/traces/{{trace_id}}/assessments": OnTrace("update"),
    f"GET {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": OnTrace("read"),
    f"PATCH {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": OnTrace("update"),
    f"DELETE {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": OnTrace("update"),
    f"POST {ML}/traces": OnExperiment("update"),
    f"GET {ML}/traces": USER,
    f"PATCH {ML}/traces/{{request_id}}": OnTrace("update"),
    f"GET {ML}/traces/{{request_id}}/info": USER,
    f"POST {ML}/traces/delete-traces": OnExperiment("delete"),
    f"POST {ML}/traces/link-to-run": UPDATE_RUN,
    f"POST {ML}/traces/link-prompts": OnTrace("update"),
    f"PATCH {ML}/traces/{{request_id}}/tags": OnTrace("update"),
    f"DELETE {ML}/traces/{{request_id}}/tags": OnTrace("update"),
    f"GET {ML}/get-trace-artifact": USER,
    f"POST {TL}/traces/restore": OnTrace("delete"),
    f"GET {TL}/traces/runs": USER,
    f"GET {TL}/traces/history": OnTrace("read"),
    "POST /v1/traces": OnHeaderExperiment("update", b"x-mlflow-experiment-id"),
    f"GET {TL}/version": PUBLIC,
    # The artifact proxy: paths start with the experiment id.
    f"GET {ART}/artifacts": OnArtifactPath("read", query=True),
    f"GET {ART}/artifacts/{{path:path}}": OnArtifactPath("read"),
    f"PUT {ART}/artifacts/{{path:path}}": OnArtifactPath("update"),
    f"DELETE {ART}/artifacts/{{path:path}}": OnArtifactPath("delete"),
    f"POST {ART}/mpu/create/{{path:path}}": OnArtifactPath("update"),
    f"POST {ART}/mpu/complete/{{path:path}}": OnArtifactPath("update"),
    f"POST {ART}/mpu/abort/{{path:path}}": OnArtifactPath("update"),
    f"GET {ART}/presigned/{{path:path}}": OnArtifactPath("read"),
    # trackledger's own endpoints.
    f"GET {TL}/runs/tree": READ_RUN,
    f"GET {TL}/runs/history": READ_RUN,
    f"GET {TL}/runs/get": READ_RUN,
    f"GET {TL}/experiments/history": OnExperiment("read"),
    f"GET {TL}/events": ADMIN,
    f"POST {TL}/admin/gc": ADMIN,
    f"GET {TL}/experiments/run-counts": USER,
    f"GET {TL}/runs/keys": USER,
    f"GET {TL}/metrics/sampled": READ_RUN,
    f"GET {TL}/metrics/sampled-runs": OnRuns("read"),
    f"POST {TL}/metrics/sampled-runs": OnRuns("read"),
    f"GET {TL}/runs/export-csv": USER,
    f"POST {TL}/tokens/create": USER,
    f"GET {TL}/tokens/list": USER,
    f"POST {TL}/tokens/revoke": USER,
    f"GET {TL}/auth/status": PUBLIC,
    f"POST {TL}/auth/login": PUBLIC,
    f"POST {TL}/auth/logout": PUBLIC,
    # MLflow's users (basic-auth app).
    f"POST {ML}/users/create": ADMIN,
    f"GET {ML}/users/get": SELF,
    f"GET {ML}/users/current": USER,
    f"GET {ML}/users/list": USER,
    f"PATCH {ML}/users/update-password": SELF,
    f"PATCH {ML}/users/update-admin": ADMIN,
    f"DELETE {ML}/users/delete": ADMIN,
    # Per-user grants, and the per-experiment endpoints of older clients.
    f"GET {ML3}/users/current/permissions": USER,
    f"GET {ML3}/users/permissions/list": SELF,
    f"POST {ML3}/users/permissions/grant": OnGrantTarget(),
    f"POST {ML3}/users/permissions/revoke": OnGrantTarget(),
    f"GET {ML3}/users/permissions/get": SelfOrManager(),
    f"POST {ML}/experiments/permissions/create": OnLegacyGrant(),
    f"GET {ML}/experiments/permissions/get": OnLegacyGrant(),
    f"PATCH {ML}/experiments/permissions/update": OnLegacyGrant(),
    f"DELETE {ML}/experiments/permissions/delete": OnLegacyGrant(),
    f"POST {ML}/registered-models/permissions/create": OnLegacyGrant(REGISTERED_MODEL),
    f"GET {ML}/registered-models/permissions/get": OnLegacyGrant(REGISTERED_MODEL),
    f"PATCH {ML}/registered-models/permissions/update": OnLegacyGrant(REGISTERED_MODEL),
    f"DELETE {ML}/registered-models/permissions/delete": OnLegacyGrant(REGISTERED_MODEL),
    # Roles: administration.
    f"POST {ML3}/roles/create": ADMIN,
    f"GET {ML3}/roles/get": ADMIN,
    f"GET {ML3}/roles/list": ADMIN,
    f"PATCH {ML3}/roles/update": ADMIN,
    f"DELETE {ML3}/roles/delete": ADMIN,
    f"POST {ML3}/roles/permissions/add": ADMIN,
    f"DELETE {ML3}/roles/permissions/remove": ADMIN,
    f"GET {ML3}/roles/permissions/list": ADMIN,
    f"PATCH {ML3}/roles/permissions/update": ADMIN,
    f"POST {ML3}/roles/assign": ADMIN,
    f"DELETE {ML3}/roles/unassign": ADMIN,
    f"GET {ML3}/roles/users/list": ADMIN,
    f"GET {ML3}/users/roles/list": SELF,
}


def rule_key(method: str, path: str) -> str:
    """The table's key for a route: HEAD as GET, the UI's /ajax-api/ as /api/."""
    if method == "HEAD":
        method = "GET"
    if path.startswith("/ajax-api/"):
        path = "/api/" + path[len("/ajax-api/") :]
    return f"{method} {path}"
