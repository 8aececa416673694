"""Registry data for the UI tests, made through the REST API by two users (Basic auth names
the actor each event records): a model registered under one name and renamed, three
versions (from two runs and a logged model), aliases moved between versions, a stage, tags,
a deleted version; a model with more versions and events than a page holds, one whose name
holds a quote, and enough other models to need a second page."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

from tests import loopback
from tests.ui.seed import API

MODEL = "fraud detector"
DESCRIPTION = """Scores card payments for **fraud**.

- trained weekly
- owner: `risk-team`
"""
#: Models beside MODEL, so the list has a second page of 25.
BULK = [f"bulk-{i:02d}" for i in range(30)]
#: churn's history: created, its versions, its tags: more than a page of 100 events.
CHURN_VERSIONS = 30
CHURN_TAGS = 75
#: A name the filter must quote with double quotes.
QUOTED = "o'brien's model"


@dataclass
class RegistrySeeded:
    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)  # name -> run id
    model_id: str = ""


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()}


def seed_registry(base_url: str) -> RegistrySeeded:
    with loopback.client(base_url=base_url, timeout=30) as client:

        def call(method: str, path: str, body: dict, user: str | None = "alice") -> dict:
            headers = _auth(user) if user else {}
            response = client.request(method, f"{API}/{path}", json=body, headers=headers)
            response.raise_for_status()
            return response.json()

        exp = call("POST", "experiments/create", {"name": "reg-demo"})["experiment_id"]
        seeded = RegistrySeeded(exp)
        start = int(time.time() * 1000) - 3_600_000
        for i, name in enumerate(["train-a", "train-b", "unregistered"]):
            made = call(
                "POST",
                "runs/create",
                {"experiment_id": exp, "run_name": name, "start_time": start + i * 1000},
            )
            seeded.runs[name] = made["run"]["info"]["run_id"]
        run_a, run_b = seeded.runs["train-a"], seeded.runs["train-b"]
        logged = call(
            "POST",
            "logged-models",
            {"experiment_id": exp, "name": "xgb", "source_run_id": run_b, "model_type": "xgboost"},
        )["model"]["info"]
        seeded.model_id = logged["model_id"]

        call("POST", "registered-models/create", {"name": "fraud-old"})
        call("POST", "registered-models/rename", {"name": "fraud-old", "new_name": MODEL})
        call("PATCH", "registered-models/update", {"name": MODEL, "description": DESCRIPTION})
        call("POST", "registered-models/set-tag", {"name": MODEL, "key": "team", "value": "risk"})
        versions = [
            {"source": f"runs:/{run_a}/model", "run_id": run_a},
            {"source": f"runs:/{run_b}/model", "run_id": run_b, "description": "Retrained in May"},
            {"source": f"models:/{seeded.model_id}", "model_id": seeded.model_id, "run_id": run_b},
            {"source": "s3://bucket/fraud/scratch"},
        ]
        for body in versions:
            call("POST", "model-versions/create", {"name": MODEL, **body})
        call(
            "POST",
            "model-versions/set-tag",
            {"name": MODEL, "version": "3", "key": "validated", "value": "yes"},
        )
        alias = "registered-models/alias"
        call("POST", alias, {"name": MODEL, "alias": "champion", "version": "1"})
        call("POST", alias, {"name": MODEL, "alias": "scratch", "version": "4"})
        call("POST", alias, {"name": MODEL, "alias": "champion", "version": "2"}, user="bob")
        call("POST", alias, {"name": MODEL, "alias": "challenger", "version": "3"}, user="bob")
        call(
            "POST",
            "model-versions/transition-stage",
            {"name": MODEL, "version": "2", "stage": "Production"},
            user="bob",
        )
        call("DELETE", "model-versions/delete", {"name": MODEL, "version": "4"}, user="bob")

        # A model whose versions and history need more than one page, changed by a client
        # that sends no user name.
        call("POST", "registered-models/create", {"name": "churn"}, user=None)
        for i in range(CHURN_VERSIONS):
            body = {"name": "churn", "source": f"s3://b/churn/{i}"}
            call("POST", "model-versions/create", body, user=None)
        for i in range(CHURN_TAGS):
            body = {"name": "churn", "key": "round", "value": str(i)}
            call("POST", "registered-models/set-tag", body, user=None)
        for name in BULK:
            call("POST", "registered-models/create", {"name": name})
        time.sleep(0.05)  # so the last model created is also the last one changed, by far
        call("POST", "registered-models/create", {"name": QUOTED})
        return seeded
