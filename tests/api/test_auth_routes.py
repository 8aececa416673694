"""Every route of the app, and the permission it needs.

A route without a rule in ``api/auth/table.py`` fails here (it would be admin-only), and so
does a rule without a sample request below. For every route each kind of user asks once;
the handler is replaced by a stub, so this judges the guard and the rule alone (the
handlers' own behaviour with authentication on is tested in test_auth.py and
test_auth_permissions.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tests.api.auth_helpers import (
    ADMIN,
    PASSWORD,
    add_user,
    basic,
    client_of,
    grant,
    make_app,
)
from trackledger.api.auth import rules
from trackledger.api.auth.guard import Guard, route_rules, walk
from trackledger.api.auth.table import RULES, rule_key
from trackledger.first_admin import ADMIN_PASSWORD, ADMIN_USERNAME, ensure_admin

ML = "/api/2.0/mlflow"
ML3 = "/api/3.0/mlflow"
TL = "/api/2.0/trackledger"
ART = "/api/2.0/mlflow-artifacts"

#: A concrete request for every rule: (path, parameters). ``E``, ``R`` and ``M`` stand for
#: the experiment, run and logged model the users hold different permissions on.
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "GET /health": ("/health", {}),
    "GET /version": ("/version", {}),
    "GET /openapi.json": ("/openapi.json", {}),
    "GET /": ("/", {}),
    "GET /static": ("/static/app.js", {}),
    f"GET {ML3}/server-info": (f"{ML3}/server-info", {}),
    "GET /metrics": ("/metrics", {}),
    f"POST {ML}/experiments/create": (f"{ML}/experiments/create", {"name": "n"}),
    f"GET {ML}/experiments/get": (f"{ML}/experiments/get", {"experiment_id": "E"}),
    f"GET {ML}/experiments/get-by-name": (
        f"{ML}/experiments/get-by-name",
        {"experiment_name": "team"},
    ),
    f"POST {ML}/experiments/search": (f"{ML}/experiments/search", {}),
    f"POST {ML}/experiments/search-datasets": (
        f"{ML}/experiments/search-datasets",
        {"experiment_ids": ["E"]},
    ),
    f"GET {ML}/experiments/search": (f"{ML}/experiments/search", {}),
    f"POST {ML}/experiments/update": (f"{ML}/experiments/update", {"experiment_id": "E"}),
    f"POST {ML}/experiments/delete": (f"{ML}/experiments/delete", {"experiment_id": "E"}),
    f"POST {ML}/experiments/restore": (f"{ML}/experiments/restore", {"experiment_id": "E"}),
    f"POST {ML}/experiments/set-experiment-tag": (
        f"{ML}/experiments/set-experiment-tag",
        {"experiment_id": "E"},
    ),
    f"POST {ML}/experiments/delete-experiment-tag": (
        f"{ML}/experiments/delete-experiment-tag",
        {"experiment_id": "E"},
    ),
    f"POST {ML}/runs/create": (f"{ML}/runs/create", {"experiment_id": "E"}),
    f"GET {ML}/runs/get": (f"{ML}/runs/get", {"run_id": "R"}),
    f"POST {ML}/runs/update": (f"{ML}/runs/update", {"run_id": "R"}),
    f"POST {ML}/runs/delete": (f"{ML}/runs/delete", {"run_id": "R"}),
    f"POST {ML}/runs/restore": (f"{ML}/runs/restore", {"run_id": "R"}),
    f"POST {ML}/runs/search": (f"{ML}/runs/search", {"experiment_ids": ["E"]}),
    f"POST {ML}/runs/log-metric": (f"{ML}/runs/log-metric", {"run_id": "R"}),
    f"POST {ML}/runs/log-parameter": (f"{ML}/runs/log-parameter", {"run_uuid": "R"}),
    f"POST {ML}/runs/set-tag": (f"{ML}/runs/set-tag", {"run_id": "R"}),
    f"POST {ML}/runs/delete-tag": (f"{ML}/runs/delete-tag", {"run_id": "R"}),
    f"POST {ML}/runs/log-batch": (f"{ML}/runs/log-batch", {"runId": "R"}),
    f"POST {ML}/runs/log-inputs": (f"{ML}/runs/log-inputs", {"run_id": "R"}),
    f"POST {ML}/runs/outputs": (f"{ML}/runs/outputs", {"run_id": "R"}),
    f"GET {ML}/metrics/get-history": (f"{ML}/metrics/get-history", {"run_id": "R"}),
    f"GET {ML}/metrics/get-history-bulk": (
        f"{ML}/metrics/get-history-bulk",
        {"run_id": ["R"], "metric_key": "m"},
    ),
    f"GET {ML}/metrics/get-history-bulk-interval": (
        f"{ML}/metrics/get-history-bulk-interval",
        {"run_ids": ["R"], "metric_key": "m"},
    ),
    f"GET {ML}/artifacts/list": (f"{ML}/artifacts/list", {"run_id": "R"}),
    "GET /get-artifact": ("/get-artifact", {"run_id": "R", "path": "a.txt"}),
    "GET /model-versions/get-artifact": (
        "/model-versions/get-artifact",
        {"name": "RM", "version": "1", "path": "a.txt"},
    ),
    f"POST {ML}/upload-artifact": (f"{ML}/upload-artifact", {"run_uuid": "R", "path": "a.txt"}),
    f"POST {ML}/databricks/runs/delete-runs": (
        f"{ML}/databricks/runs/delete-runs",
        {"experiment_id": "E"},
    ),
    f"POST {ML}/databricks/runs/restore-runs": (
        f"{ML}/databricks/runs/restore-runs",
        {"experiment_id": "E"},
    ),
    f"POST {ML}/logged-models": (f"{ML}/logged-models", {"experiment_id": "E"}),
    f"POST {ML}/logged-models/search": (f"{ML}/logged-models/search", {}),
    f"GET {ML}/logged-models/{{model_id}}": (f"{ML}/logged-models/M", {}),
    f"GET {ML}/logged-models/{{model_id}}/artifacts/directories": (
        f"{ML}/logged-models/M/artifacts/directories",
        {},
    ),
    f"GET {ML}/logged-models/{{model_id}}/artifacts/files": (
        f"{ML}/logged-models/M/artifacts/files",
        {"artifact_file_path": "MLmodel"},
    ),
    f"PATCH {ML}/logged-models/{{model_id}}": (f"{ML}/logged-models/M", {}),
    f"DELETE {ML}/logged-models/{{model_id}}": (f"{ML}/logged-models/M", {}),
    f"PATCH {ML}/logged-models/{{model_id}}/tags": (f"{ML}/logged-models/M/tags", {}),
    f"DELETE {ML}/logged-models/{{model_id}}/tags/{{key:path}}": (
        f"{ML}/logged-models/M/tags/a/b",
        {},
    ),
    f"POST {ML}/logged-models/{{model_id}}/params": (f"{ML}/logged-models/M/params", {}),
    f"GET {ART}/artifacts": (f"{ART}/artifacts", {"path": "E/R/artifacts"}),
    f"GET {ART}/artifacts/{{path:path}}": (f"{ART}/artifacts/E/R/artifacts/f.txt", {}),
    f"PUT {ART}/artifacts/{{path:path}}": (f"{ART}/artifacts/E/R/artifacts/f.txt", {}),
    f"DELETE {ART}/artifacts/{{path:path}}": (f"{ART}/artifacts/E/R/artifacts/f.txt", {}),
    f"POST {ART}/mpu/create/{{path:path}}": (f"{ART}/mpu/create/E/R/artifacts", {}),
    f"POST {ART}/mpu/complete/{{path:path}}": (f"{ART}/mpu/complete/E/R/artifacts", {}),
    f"POST {ART}/mpu/abort/{{path:path}}": (f"{ART}/mpu/abort/E/R/artifacts", {}),
    f"GET {ART}/presigned/{{path:path}}": (f"{ART}/presigned/E/f", {}),
    f"GET {TL}/runs/tree": (f"{TL}/runs/tree", {"run_id": "R"}),
    f"GET {TL}/runs/history": (f"{TL}/runs/history", {"run_id": "R"}),
    f"GET {TL}/runs/get": (f"{TL}/runs/get", {"run_id": "R"}),
    f"GET {TL}/experiments/history": (f"{TL}/experiments/history", {"experiment_id": "E"}),
    f"GET {TL}/events": (f"{TL}/events", {}),
    f"POST {TL}/admin/gc": (f"{TL}/admin/gc", {}),
    f"GET {TL}/experiments/run-counts": (f"{TL}/experiments/run-counts", {}),
    f"GET {TL}/runs/keys": (f"{TL}/runs/keys", {}),
    f"GET {TL}/metrics/sampled": (f"{TL}/metrics/sampled", {"run_id": "R"}),
    f"GET {TL}/runs/export-csv": (f"{TL}/runs/export-csv", {}),
    f"POST {TL}/tokens/create": (f"{TL}/tokens/create", {}),
    f"GET {TL}/tokens/list": (f"{TL}/tokens/list", {}),
    f"POST {TL}/tokens/revoke": (f"{TL}/tokens/revoke", {}),
    f"GET {TL}/auth/status": (f"{TL}/auth/status", {}),
    f"POST {TL}/auth/login": (f"{TL}/auth/login", {}),
    f"POST {TL}/auth/logout": (f"{TL}/auth/logout", {}),
    f"POST {ML}/users/create": (f"{ML}/users/create", {"username": "x"}),
    f"GET {ML}/users/get": (f"{ML}/users/get", {"username": "reader"}),
    f"GET {ML}/users/current": (f"{ML}/users/current", {}),
    f"GET {ML}/users/list": (f"{ML}/users/list", {}),
    f"PATCH {ML}/users/update-password": (f"{ML}/users/update-password", {"username": "reader"}),
    f"PATCH {ML}/users/update-admin": (f"{ML}/users/update-admin", {"username": "reader"}),
    f"DELETE {ML}/users/delete": (f"{ML}/users/delete", {"username": "reader"}),
    f"GET {ML3}/users/current/permissions": (f"{ML3}/users/current/permissions", {}),
    f"GET {ML3}/users/permissions/list": (f"{ML3}/users/permissions/list", {"username": "reader"}),
    f"POST {ML3}/users/permissions/grant": (
        f"{ML3}/users/permissions/grant",
        {"username": "reader", "resource_type": "experiment", "resource_id": "E"},
    ),
    f"POST {ML3}/users/permissions/revoke": (
        f"{ML3}/users/permissions/revoke",
        {"username": "reader", "resource_type": "experiment", "resource_id": "E"},
    ),
    f"GET {ML3}/users/permissions/get": (
        f"{ML3}/users/permissions/get",
        {"username": "reader", "resource_type": "experiment", "resource_id": "E"},
    ),
    f"POST {ML}/experiments/permissions/create": (
        f"{ML}/experiments/permissions/create",
        {"experiment_id": "E", "username": "reader"},
    ),
    f"GET {ML}/experiments/permissions/get": (
        f"{ML}/experiments/permissions/get",
        {"experiment_id": "E", "username": "reader"},
    ),
    f"PATCH {ML}/experiments/permissions/update": (
        f"{ML}/experiments/permissions/update",
        {"experiment_id": "E", "username": "reader"},
    ),
    f"DELETE {ML}/experiments/permissions/delete": (
        f"{ML}/experiments/permissions/delete",
        {"experiment_id": "E", "username": "reader"},
    ),
    f"POST {ML3}/roles/create": (f"{ML3}/roles/create", {}),
    f"GET {ML3}/roles/get": (f"{ML3}/roles/get", {"role_id": "1"}),
    f"GET {ML3}/roles/list": (f"{ML3}/roles/list", {}),
    f"PATCH {ML3}/roles/update": (f"{ML3}/roles/update", {"role_id": 1}),
    f"DELETE {ML3}/roles/delete": (f"{ML3}/roles/delete", {"role_id": 1}),
    f"POST {ML3}/roles/permissions/add": (f"{ML3}/roles/permissions/add", {"role_id": 1}),
    f"DELETE {ML3}/roles/permissions/remove": (f"{ML3}/roles/permissions/remove", {}),
    f"GET {ML3}/roles/permissions/list": (f"{ML3}/roles/permissions/list", {"role_id": "1"}),
    f"PATCH {ML3}/roles/permissions/update": (f"{ML3}/roles/permissions/update", {}),
    f"POST {ML3}/roles/assign": (f"{ML3}/roles/assign", {"username": "reader", "role_id": 1}),
    f"DELETE {ML3}/roles/unassign": (f"{ML3}/roles/unassign", {"username": "reader"}),
    f"GET {ML3}/roles/users/list": (f"{ML3}/roles/users/list", {"role_id": "1"}),
    f"GET {ML3}/users/roles/list": (f"{ML3}/users/roles/list", {"username": "reader"}),
    f"POST {ML}/registered-models/create": (f"{ML}/registered-models/create", {}),
    f"GET {TL}/metrics/sampled-runs": (f"{TL}/metrics/sampled-runs", {"run_ids": ["R"]}),
    f"POST {TL}/metrics/sampled-runs": (f"{TL}/metrics/sampled-runs", {"run_ids": ["R"]}),
}

#: Routes about one registered model, by name (``RM``): a request for each.
_MODEL_ROUTES = [
    f"GET {ML}/registered-models/get",
    f"POST {ML}/registered-models/rename",
    f"PATCH {ML}/registered-models/update",
    f"DELETE {ML}/registered-models/delete",
    f"GET {ML}/registered-models/get-latest-versions",
    f"POST {ML}/registered-models/get-latest-versions",
    f"POST {ML}/registered-models/set-tag",
    f"DELETE {ML}/registered-models/delete-tag",
    f"POST {ML}/registered-models/alias",
    f"DELETE {ML}/registered-models/alias",
    f"GET {ML}/registered-models/alias",
    f"POST {ML}/model-versions/create",
    f"GET {ML}/model-versions/get",
    f"PATCH {ML}/model-versions/update",
    f"POST {ML}/model-versions/transition-stage",
    f"DELETE {ML}/model-versions/delete",
    f"GET {ML}/model-versions/get-download-uri",
    f"POST {ML}/model-versions/set-tag",
    f"DELETE {ML}/model-versions/delete-tag",
    f"GET {TL}/registered-models/history",
    f"GET {TL}/registered-models/get",
    f"GET {TL}/registered-models/alias",
    f"GET {TL}/model-versions/get",
    f"POST {ML}/registered-models/permissions/create",
    f"GET {ML}/registered-models/permissions/get",
    f"PATCH {ML}/registered-models/permissions/update",
    f"DELETE {ML}/registered-models/permissions/delete",
]
for _key in _MODEL_ROUTES:
    SAMPLES[_key] = (_key.split(" ", 1)[1], {"name": "RM", "username": "reader"})
for _key in (f"GET {ML}/registered-models/search", f"POST {ML}/registered-models/search"):
    SAMPLES[_key] = (_key.split(" ", 1)[1], {})
for _key in (f"GET {ML}/model-versions/search", f"POST {ML}/model-versions/search"):
    SAMPLES[_key] = (_key.split(" ", 1)[1], {})

# Traces: ``T`` is a trace in the experiment.
_TRACE_SAMPLES: dict[str, dict[str, Any]] = {
    f"POST {ML3}/traces": {
        "trace": {"trace_info": {"trace_location": {"mlflow_experiment": {"experiment_id": "E"}}}}
    },
    f"GET {ML3}/traces/get": {"trace_id": "T"},
    f"GET {ML3}/traces/batchGet": {"trace_ids": ["T"]},
    f"POST {ML3}/traces/batchGetInfos": {"trace_ids": ["T"]},
    f"POST {ML3}/traces/search": {"locations": []},
    f"POST {ML3}/traces/delete-traces": {"experiment_id": "E"},
    f"POST {ML3}/traces/calculate-filter-correlation": {},
    f"POST {ML3}/traces/metrics": {},
    f"GET {ML3}/traces/{{trace_id}}": {},
    f"PATCH {ML3}/traces/{{trace_id}}/tags": {},
    f"DELETE {ML3}/traces/{{trace_id}}/tags": {},
    f"POST {ML3}/traces/{{trace_id}}/assessments": {},
    f"GET {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": {},
    f"PATCH {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": {},
    f"DELETE {ML3}/traces/{{trace_id}}/assessments/{{assessment_id}}": {},
    f"POST {ML}/traces": {"experiment_id": "E"},
    f"GET {ML}/traces": {"experiment_ids": ["E"]},
    f"PATCH {ML}/traces/{{request_id}}": {},
    f"GET {ML}/traces/{{request_id}}/info": {},
    f"POST {ML}/traces/delete-traces": {"experiment_id": "E"},
    f"POST {ML}/traces/link-to-run": {"run_id": "R", "trace_ids": ["T"]},
    f"POST {ML}/traces/link-prompts": {"trace_id": "T"},
    f"PATCH {ML}/traces/{{request_id}}/tags": {},
    f"DELETE {ML}/traces/{{request_id}}/tags": {},
    f"GET {ML}/get-trace-artifact": {"request_id": "T"},
    f"POST {TL}/traces/restore": {"trace_ids": ["T"]},
    f"GET {TL}/traces/runs": {"trace_id": "T"},
    f"GET {TL}/traces/history": {"trace_id": "T"},
    "POST /v1/traces": {},
    f"GET {TL}/version": {},
}
for _key, _params in _TRACE_SAMPLES.items():
    _path = _key.split(" ", 1)[1]
    _path = _path.replace("{trace_id}", "T").replace("{request_id}", "T")
    SAMPLES[_key] = (_path.replace("{assessment_id}", "a-1"), _params)
#: POSTs whose parameters are in the query string (their body is a file).
QUERY_POSTS = {f"POST {ML}/upload-artifact"}
#: Headers some requests need (OTLP names its experiment in one).
HEADERS = {"POST /v1/traces": {"x-mlflow-experiment-id": "E"}}


#: The users asking, in the order they ask.
USERS = ["anonymous", "denied", "reader", "editor", "manager", "admin"]
#: What each user may do with experiment E (reader: the default permission, READ).
CAN = {
    "denied": set(),
    "reader": {"read"},
    "editor": {"read", "update"},
    "manager": {"read", "update", "delete", "manage"},
    "admin": {"read", "update", "delete", "manage"},
}


def expected(rule: rules.Rule, user: str) -> str:
    """ "401", "403" or "pass" (the handler is reached)."""
    if rule.public:
        return "pass"
    if user == "anonymous":
        return "401"
    if type(rule) is rules.Rule:
        return "pass"
    if rule is rules.ADMIN:
        return "pass" if user == "admin" else "403"
    if isinstance(rule, rules.SelfOrManager):
        return "pass" if user == "reader" or "manage" in CAN[user] else "403"
    if isinstance(rule, rules.SelfOrAdmin):
        return "pass" if user in ("admin", "reader") else "403"
    if isinstance(rule, (rules.OnGrantTarget, rules.OnLegacyGrant)):
        return "pass" if "manage" in CAN[user] else "403"
    action = getattr(rule, "action", None)
    assert action is not None, f"no expectation for {rule!r}"
    return "pass" if action in CAN[user] else "403"


def test_every_route_has_a_rule_and_every_rule_a_route(tmp_path):
    async def never() -> Any:
        raise AssertionError("not opened")

    from trackledger.api.app import create_app

    app = create_app(never, expose_prometheus=True)
    listed = [(method, path, rule) for method, path, rule in route_rules(app)]
    missing = sorted(f"{m} {p}" for m, p, rule in listed if rule is None)
    assert missing == [], f"routes without a rule in api/auth/table.py: {missing}"
    served = {rule_key(m, p) for m, p, _ in listed}
    assert sorted(set(RULES) - served) == [], "rules for routes that do not exist"
    assert sorted(set(RULES) - set(SAMPLES)) == [], "rules without a sample request here"


async def _stubbed(app: Starlette) -> int:
    """Replace every guarded handler with a stub that answers 299; return how many."""

    async def stub(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("reached", status_code=299)(scope, receive, send)

    count = 0
    for _, route in walk(app.routes):
        guard = getattr(route, "app", None)
        if isinstance(guard, Guard):
            guard.app = stub
            count += 1
    return count


async def _setup(backend, tmp_path) -> dict[str, str]:
    """Users with different permissions on an experiment, its run, its logged model and a
    registered model; the ids of those, by their symbols in SAMPLES."""
    await ensure_admin(backend, {ADMIN_USERNAME: ADMIN[0], ADMIN_PASSWORD: ADMIN[1]})
    real = make_app(backend, tmp_path)
    async with client_of(real, basic(*ADMIN)) as admin:
        for name in ("denied", "reader", "editor", "manager"):
            await add_user(admin, name)
        exp = (await admin.post(f"{ML}/experiments/create", json={"name": "team"})).json()
        experiment_id = exp["experiment_id"]
        run = await admin.post(f"{ML}/runs/create", json={"experiment_id": experiment_id})
        run_id = run.json()["run"]["info"]["run_id"]
        model = await admin.post(
            f"{ML}/logged-models", json={"experiment_id": experiment_id, "name": "m"}
        )
        model_id = model.json()["model"]["info"]["model_id"]
        await grant(admin, "denied", experiment_id, "DENY")
        await grant(admin, "editor", experiment_id, "EDIT")
        await grant(admin, "manager", experiment_id, "MANAGE")
        made = await admin.post(f"{ML}/registered-models/create", json={"name": "team-model"})
        assert made.status_code == 200, made.text
        for user, level in (("denied", "DENY"), ("editor", "EDIT"), ("manager", "MANAGE")):
            await grant(admin, user, "team-model", level, resource_type="registered_model")

        trace = await admin.post(f"{ML}/traces", json={"experiment_id": experiment_id})
        assert trace.status_code == 200, trace.text
        trace_id = trace.json()["trace_info"]["request_id"]
    return {"E": experiment_id, "R": run_id, "M": model_id, "RM": "team-model", "T": trace_id}


def _concrete(ids: dict[str, str]) -> Any:
    def concrete(value: Any) -> Any:
        if isinstance(value, list):
            return [concrete(v) for v in value]
        if isinstance(value, dict):
            return {k: concrete(v) for k, v in value.items()}
        if isinstance(value, str):
            for symbol, real_id in ids.items():
                value = value.replace(f"/{symbol}/", f"/{real_id}/")
                if value == symbol or value.startswith(f"{symbol}/"):
                    value = real_id + value[len(symbol) :]
                if value.endswith(f"/{symbol}"):
                    value = value[: -len(symbol)] + real_id
            return value
        return value

    return concrete


async def test_each_route_asks_for_its_permission(backend, tmp_path):
    ids = await _setup(backend, tmp_path)
    app = make_app(backend, tmp_path, expose_prometheus=True)
    assert await _stubbed(app) > 50
    concrete = _concrete(ids)
    failures = []
    for key, (path, params) in SAMPLES.items():
        method = key.split(" ", 1)[0]
        rule = RULES[key]
        url = concrete(path)
        for user in USERS:
            headers = (
                {}
                if user == "anonymous"
                else basic(user, ADMIN[1] if user == "admin" else PASSWORD)
            )
            headers.update({k: concrete(v) for k, v in HEADERS.get(key, {}).items()})
            async with client_of(app, headers) as http:
                body = {k: concrete(v) for k, v in params.items()}
                if method == "GET" or key in QUERY_POSTS:
                    response = await http.request(method, url, params=body)
                else:
                    response = await http.request(method, url, json=body)
            got = {401: "401", 403: "403", 299: "pass"}.get(response.status_code, "other")
            if rule.public and got == "other":
                got = "pass"  # not guarded at all: the real handler answered
            want = expected(rule, user)
            if got != want:
                failures.append(f"{key} as {user}: {response.status_code} (want {want})")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("header", ["Basic !!!", "Bearer tlk_0000000000000000_x", "Digest x"])
async def test_malformed_credentials_are_401(auth_app, header):
    async with client_of(auth_app, {"Authorization": header}) as http:
        response = await http.get(f"{ML}/experiments/get", params={"experiment_id": "0"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


async def test_every_read_answers_a_user_who_is_not_an_admin(backend, tmp_path):
    """Through the real handlers (no stubs): the backend a non-admin's handlers get serves
    every read, narrowed where it lists across experiments or models."""
    ids = await _setup(backend, tmp_path)
    app = make_app(backend, tmp_path)
    concrete = _concrete(ids)
    failures = []
    async with client_of(app, basic("reader", PASSWORD)) as http:
        for key, (path, params) in SAMPLES.items():
            method = key.split(" ", 1)[0]
            if method != "GET" and not path.endswith("search"):
                continue
            body = {k: concrete(v) for k, v in params.items()}
            url = concrete(path)
            if method == "GET":
                response = await http.get(url, params=body)
            else:
                response = await http.request(method, url, json=body)
            if response.status_code >= 500 and response.status_code != 501:  # 501: by design
                failures.append(f"{key}: {response.status_code} {response.text[:200]}")
    assert failures == [], "\n".join(failures)
