"""The unchanged mlflow client against a server started with --auth: prints results as JSON.

Run by test_auth_client.py in its own process, with MLFLOW_TRACKING_URI set and the admin's
name and password in ADMIN_USERNAME / ADMIN_PASSWORD. Credentials go in the environment
variables the client reads on every call.
"""

from __future__ import annotations

import json
import os
from typing import Any

import mlflow
import mlflow_flow  # beside this script
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

URI = os.environ["MLFLOW_TRACKING_URI"]
PASSWORD = "a-long-password"


def as_user(username: str | None, password: str | None = PASSWORD) -> None:
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        os.environ.pop(name, None)
    if username is not None:
        os.environ["MLFLOW_TRACKING_USERNAME"] = username
        os.environ["MLFLOW_TRACKING_PASSWORD"] = password or ""


def as_token(token: str) -> None:
    as_user(None)
    os.environ["MLFLOW_TRACKING_TOKEN"] = token


def refusal(call: Any) -> str:
    """The error code ``call`` fails with."""
    try:
        call()
    except MlflowException as exc:
        return str(exc.error_code)
    return "no error"


def main() -> None:
    out: dict[str, Any] = {}
    admin = (os.environ["ADMIN_USERNAME"], os.environ["ADMIN_PASSWORD"])
    auth = get_app_client("basic-auth", tracking_uri=URI)

    as_user(None)
    out["anonymous"] = refusal(lambda: mlflow.search_experiments())

    # The admin manages users through MLflow's AuthServiceClient.
    as_user(*admin)
    alice = auth.create_user("alice", PASSWORD)
    auth.create_user("bob", PASSWORD)
    auth.create_user("temp", PASSWORD)
    out["alice"] = [alice.username, alice.is_admin, auth.get_user("alice").id == alice.id]
    auth.update_user_admin("temp", True)
    out["temp_admin"] = auth.get_user("temp").is_admin
    auth.update_user_password("temp", "another-long-password")
    auth.delete_user("temp")
    out["temp_gone"] = refusal(lambda: auth.get_user("temp"))

    # Alice does the whole tracking flow with her credentials.
    as_user("alice")
    flow = mlflow_flow.run()
    out["flow"] = flow
    experiment_id = flow["experiment_id"]
    # As the experiment's creator she manages it: she lets bob read it.
    auth.grant_user_permission("bob", "experiment", experiment_id, "READ")
    check = auth.get_user_permission("bob", "experiment", experiment_id)
    out["bob_permission"] = [check.permission, check.allowed]

    # Bob reads, and sees nothing else; he cannot write, delete or purge.
    as_user("bob")
    hidden = "not for bob"
    out["bob_search"] = [e.name for e in mlflow.search_experiments()]
    out["bob_runs"] = len(mlflow.search_runs(experiment_ids=[experiment_id]))
    client = MlflowClient()
    out["bob_log"] = refusal(lambda: client.log_metric(flow["outer"], "hack", 1.0))
    out["bob_create_run"] = refusal(lambda: client.create_run(experiment_id))
    out["bob_delete"] = refusal(lambda: client.delete_experiment(experiment_id))
    bob_gc = requests.post(
        f"{URI}/api/2.0/trackledger/admin/gc",
        json={"older_than": "0s"},
        auth=("bob", PASSWORD),
        timeout=30,
    )
    out["bob_gc"] = [bob_gc.status_code, bob_gc.json()["error_code"]]
    out["bob_users"] = refusal(lambda: auth.create_user("eve", PASSWORD))

    # A forged name: alice's name with bob's password is refused.
    as_user("alice", "not-alices-password")
    out["forged"] = refusal(lambda: mlflow.search_experiments())

    # Alice makes a token for CI; CI logs as alice with it.
    token = requests.post(
        f"{URI}/api/2.0/trackledger/tokens/create",
        json={"name": "ci", "expires_in_days": 1},
        auth=("alice", PASSWORD),
        timeout=30,
    ).json()["token"]
    as_token(token)
    MlflowClient().log_metric(flow["outer"], "from_ci", 1.0)
    history = requests.get(
        f"{URI}/api/2.0/trackledger/runs/history",
        params={"run_id": flow["outer"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    out["actors"] = sorted({e["actor"] for e in history["events"]})

    # Roles for teams, by the admin.
    as_user(*admin)
    mlflow.set_experiment(hidden)
    role = auth.create_role("default", "readers", "may read everything")
    permission = auth.add_role_permission(role.id, "experiment", "*", "READ")
    auth.update_role_permission(permission.id, "EDIT")
    assignment = auth.assign_role("bob", role.id)
    out["role"] = [
        auth.get_role(role.id).name,
        [r.name for r in auth.list_roles("default")],
        [p.permission for p in auth.list_role_permissions(role.id)],
        [r.name for r in auth.list_user_roles("bob")],
        [a.user_id for a in auth.list_role_users(role.id)] == [assignment.user_id],
        auth.update_role(role.id, description="edits").description,
    ]
    as_user("bob")
    out["bob_search_with_role"] = sorted(e.name for e in mlflow.search_experiments())
    as_user(*admin)
    auth.unassign_role("bob", role.id)
    auth.remove_role_permission(permission.id)
    auth.delete_role(role.id)
    out["roles_left"] = [r.name for r in auth.list_all_roles()]
    auth.revoke_user_permission("bob", "experiment", experiment_id)
    out["bob_after_revoke"] = auth.get_user_permission(
        "bob", "experiment", experiment_id
    ).permission

    # The admin may purge.
    MlflowClient().delete_experiment(experiment_id)
    purged = requests.post(
        f"{URI}/api/2.0/trackledger/admin/gc",
        json={"older_than": "0s"},
        auth=admin,
        timeout=30,
    )
    out["admin_gc"] = purged.json()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
