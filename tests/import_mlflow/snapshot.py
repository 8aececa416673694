"""Read everything the mlflow client can read from one tracking server (run as a script,
with MLFLOW_TRACKING_URI set) and print it as JSON: experiment and run searches with
filters, orders and pages, every run, every metric history, every artifact's listing and
bytes, the logged models with their files and a prediction.

A process of its own per server: the client caches artifact repositories per run id, so
one process reading two servers with the same run ids would read one server's files twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

RUN_SEARCHES = [
    ("", ["start_time DESC"], ViewType.ALL),
    ("", ["attributes.run_name ASC"], ViewType.ACTIVE_ONLY),
    ("", [], ViewType.DELETED_ONLY),
    ("metrics.loss < 0.4", ["metrics.loss DESC"], ViewType.ALL),
    ("params.lr = '0.01'", [], ViewType.ALL),
    ("tags.keep = 'yes'", ["start_time ASC"], ViewType.ACTIVE_ONLY),
    ("attributes.status = 'FAILED'", [], ViewType.ALL),
    ("tags.mlflow.parentRunId != ''", ["attributes.start_time ASC"], ViewType.ALL),
    ("dataset.name = 'train'", [], ViewType.ALL),
    ("", ["params.lr ASC", "start_time DESC"], ViewType.ALL),
]


def _value(v: float) -> Any:
    return "NaN" if math.isnan(v) else v


def _files(list_dir: Any, download: Any, path: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for info in list_dir(path):
        if info.is_dir:
            out[info.path + "/"] = None
            out.update(_files(list_dir, download, info.path))
        else:
            data = Path(download(info.path)).read_bytes()
            out[info.path] = [info.file_size, hashlib.sha256(data).hexdigest()]
    return out


def _run(client: MlflowClient, run: Any, work: Path) -> dict[str, Any]:
    info = run.info
    run_id = info.run_id
    histories = {
        key: [
            [_value(m.value), m.timestamp, m.step] for m in client.get_metric_history(run_id, key)
        ]
        for key in sorted(run.data.metrics)
    }
    target = work / run_id
    target.mkdir()
    files = _files(
        lambda p: client.list_artifacts(run_id, p),
        lambda p: client.download_artifacts(run_id, p, str(target)),
    )
    return {
        "info": {
            "run_id": run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage,
        },
        "metrics": {k: _value(v) for k, v in sorted(run.data.metrics.items())},
        "params": dict(sorted(run.data.params.items())),
        "tags": dict(sorted(run.data.tags.items())),
        "datasets": sorted(
            [
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema,
                d.dataset.profile,
                sorted((t.key, t.value) for t in d.tags),
            ]
            for d in run.inputs.dataset_inputs
        ),
        "model_inputs": sorted(m.model_id for m in run.inputs.model_inputs or []),
        "outputs": sorted(
            [m.model_id, m.step] for m in (run.outputs.model_outputs if run.outputs else [])
        ),
        "histories": histories,
        "files": files,
    }


def main() -> None:
    client = MlflowClient()
    work = Path(tempfile.mkdtemp())
    experiments = client.search_experiments(view_type=ViewType.ALL, order_by=["experiment_id"])
    exp_ids = [x.experiment_id for x in experiments]
    out: dict[str, Any] = {
        "experiments": [
            {
                "experiment_id": x.experiment_id,
                "name": x.name,
                "artifact_location": x.artifact_location,
                "lifecycle_stage": x.lifecycle_stage,
                "creation_time": x.creation_time,
                "last_update_time": x.last_update_time,
                "tags": dict(sorted(x.tags.items())),
            }
            for x in experiments
        ],
        "experiment_search": [
            x.name
            for x in client.search_experiments(
                view_type=ViewType.ALL,
                filter_string="name LIKE 'imp%'",
                order_by=["last_update_time DESC", "name"],
            )
        ],
    }
    searches = []
    for filter_string, order_by, view in RUN_SEARCHES:
        pages, token = [], None
        while True:
            page = client.search_runs(
                exp_ids, filter_string, view, max_results=3, order_by=order_by, page_token=token
            )
            pages.append([r.info.run_id for r in page])
            token = page.token
            if not token:
                break
        searches.append(pages)
    out["run_searches"] = searches
    runs = client.search_runs(exp_ids, "", ViewType.ALL, max_results=1000)
    out["runs"] = {r.info.run_id: _run(client, r, work) for r in runs}
    models = client.search_logged_models(exp_ids, max_results=100)
    out["models"] = {}
    for model in models:
        folder = work / model.model_id
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, dst_path=str(folder)
        )
        loaded = mlflow.pyfunc.load_model(f"models:/{model.model_id}")
        out["models"][model.model_id] = {
            "name": model.name,
            "experiment_id": model.experiment_id,
            "artifact_location": model.artifact_location,
            "status": str(model.status),
            "source_run_id": model.source_run_id,
            # The REST API says "" where the SQL store (a client without a server) says None.
            "model_type": model.model_type or "",
            "creation_timestamp": model.creation_timestamp,
            "tags": dict(sorted(model.tags.items())),
            "params": dict(sorted(model.params.items())),
            # Loading a model from a local directory writes registered_model_meta into it.
            "files": sorted(
                [str(p.relative_to(local)), hashlib.sha256(p.read_bytes()).hexdigest()]
                for p in Path(local).rglob("*")
                if p.is_file() and p.name != "registered_model_meta"
            ),
            "prediction": loaded.predict([1, 2]),
        }
    out["registry"] = _registry(client)
    print(json.dumps(out, sort_keys=True))


def _registry(client: MlflowClient) -> dict[str, Any]:
    # Through REST versions are strings and a missing description is ""; the SQL store
    # (a client without a server) says ints and None.
    models = {}
    for m in client.search_registered_models(max_results=1000):
        models[m.name] = {
            "description": m.description or "",
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "tags": dict(sorted(m.tags.items())),
            "aliases": {k: str(v) for k, v in sorted(m.aliases.items())},
            "latest_versions": sorted([str(v.version), v.current_stage] for v in m.latest_versions),
        }
    versions = {}
    for v in client.search_model_versions(max_results=1000):
        versions[f"{v.name}/{v.version}"] = {
            "version": str(v.version),
            "creation_timestamp": v.creation_timestamp,
            "last_updated_timestamp": v.last_updated_timestamp,
            "current_stage": v.current_stage,
            "description": v.description or "",
            "source": v.source,
            "run_id": v.run_id,
            "status": v.status,
            "tags": dict(sorted(v.tags.items())),
            "aliases": sorted(v.aliases),
            "download_uri": client.get_model_version_download_uri(v.name, v.version),
        }
    champion = mlflow.pyfunc.load_model("models:/doubler@champion")
    return {"models": models, "versions": versions, "champion": champion.predict([3])}


if __name__ == "__main__":
    main()
