"""Read an MLflow tracking server through its REST API (any MLflow, remote or not).

Credentials come from the variables the mlflow client reads: MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD (basic auth) or MLFLOW_TRACKING_TOKEN (bearer), and
MLFLOW_TRACKING_INSECURE_TLS / MLFLOW_TRACKING_SERVER_CERT_PATH for TLS. Run pages come
with params, tags, latest metrics and inputs; histories are read per series, several at
once. The REST API does not tell when a run was deleted, and does not list deleted logged
models.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from trackledger.eventlog.events import DatasetInput, ModelOutput, Tag
from trackledger.services.mlflow_artifacts import Resolver
from trackledger.services.mlflow_source import (
    ArtifactReader,
    BatchSize,
    Point,
    SourceExperiment,
    SourceModel,
    SourceRegisteredModel,
    SourceRun,
    SourceUnavailable,
    SourceVersion,
    describe_source,
)

__all__ = ["RestSource", "open_rest_source", "source_http_client"]

API = "/api/2.0/mlflow"
PAGE = 1000
HISTORY_PAGE = 25_000
#: Histories read at once.
CONCURRENCY = 8
_RETRY_STATUSES = (429, 502, 503, 504)
IS_PROMPT = "mlflow.prompt.is_prompt"


def source_http_client() -> httpx.AsyncClient:
    """An HTTP client with the mlflow client's credentials and TLS settings."""
    env = os.environ
    headers = {"User-Agent": "trackledger-import-mlflow"}
    auth: httpx.Auth | None = None
    if env.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
    elif env.get("MLFLOW_TRACKING_USERNAME"):
        auth = httpx.BasicAuth(
            env["MLFLOW_TRACKING_USERNAME"], env.get("MLFLOW_TRACKING_PASSWORD", "")
        )
    verify: bool | str = True
    if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        verify = False
    elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    timeout = float(env.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "120"))
    return httpx.AsyncClient(
        headers=headers,
        auth=auth,
        verify=verify,
        timeout=timeout,
        transport=httpx.AsyncHTTPTransport(retries=3, verify=verify),
        limits=httpx.Limits(max_connections=CONCURRENCY * 2),
    )


def _number(value: Any) -> float:
    return float(value)  # "NaN", "Infinity" and "-Infinity" come as strings


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _quoted(text: str) -> str:
    """A string literal of MLflow's filter language."""
    return f'"{text}"' if "'" in text else f"'{text}'"


def _pairs(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or []}


def _run(body: dict[str, Any]) -> SourceRun:
    info, data = body["info"], body.get("data", {})
    inputs, outputs = body.get("inputs", {}), body.get("outputs", {})
    return SourceRun(
        run_id=info["run_id"],
        experiment_id=str(info["experiment_id"]),
        name=info.get("run_name", ""),
        user_id=info.get("user_id", ""),
        status=info.get("status", "RUNNING"),
        start_time=_int(info.get("start_time")),
        end_time=_int(info.get("end_time")),
        lifecycle_stage=info.get("lifecycle_stage", "active"),
        deleted_time=None,
        artifact_uri=info.get("artifact_uri", ""),
        tags=_pairs(data.get("tags")),
        params=_pairs(data.get("params")),
        datasets=[
            DatasetInput(
                name=d["dataset"]["name"],
                digest=d["dataset"]["digest"],
                source_type=d["dataset"]["source_type"],
                source=d["dataset"]["source"],
                schema=d["dataset"].get("schema"),
                profile=d["dataset"].get("profile"),
                tags=[Tag(t["key"], t.get("value", "")) for t in d.get("tags", [])],
            )
            for d in inputs.get("dataset_inputs", [])
        ],
        model_inputs=[m["model_id"] for m in inputs.get("model_inputs", [])],
        outputs=[
            ModelOutput(m["model_id"], int(m.get("step", 0)))
            for m in outputs.get("model_outputs", [])
        ],
        latest={
            m["key"]: (int(m.get("step", 0)), int(m.get("timestamp", 0)), _number(m["value"]))
            for m in data.get("metrics", [])
        },
    )


class RestSource:
    kind = "server"

    def __init__(self, http: httpx.AsyncClient, base: str, resolver: Resolver) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.label = describe_source(self.base)
        self.resolver = resolver
        self._runs: list[SourceRun] | None = None
        self._experiment_ids: list[str] = []

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base}{path}"
        for attempt in range(5):
            try:
                response = await self.http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise SourceUnavailable(f"{self.label}: {type(exc).__name__}: {exc}") from None
            if response.status_code in _RETRY_STATUSES and attempt < 4:
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if response.status_code != 200:
                try:
                    message = response.json().get("message", response.text)
                except ValueError:
                    message = response.text[:200]
                raise SourceUnavailable(
                    f"{self.label} answered {response.status_code} to {method} {path}: "
                    f"{message}".strip()
                )
            try:
                body: dict[str, Any] = response.json()
            except ValueError:
                raise SourceUnavailable(
                    f"{self.label} did not answer {path} with JSON: is it an MLflow server?"
                ) from None
            return body
        raise AssertionError("unreachable")

    async def experiments(self) -> list[SourceExperiment]:
        out: list[SourceExperiment] = []
        body: dict[str, Any] = {"max_results": PAGE, "view_type": "ALL"}
        while True:
            page = await self._call("POST", f"{API}/experiments/search", json=body)
            for e in page.get("experiments", []):
                out.append(
                    SourceExperiment(
                        experiment_id=str(e["experiment_id"]),
                        name=e["name"],
                        artifact_location=e.get("artifact_location", ""),
                        lifecycle_stage=e.get("lifecycle_stage", "active"),
                        creation_time=_int(e.get("creation_time")),
                        last_update_time=_int(e.get("last_update_time")),
                        tags=_pairs(e.get("tags")),
                    )
                )
            if not page.get("next_page_token"):
                return out
            body["page_token"] = page["next_page_token"]

    async def _all_runs(self) -> list[SourceRun]:
        if self._runs is None:
            runs: list[SourceRun] = []
            for experiment in await self.experiments():
                body: dict[str, Any] = {
                    "experiment_ids": [experiment.experiment_id],
                    "run_view_type": "ALL",
                    "max_results": PAGE,
                }
                while True:
                    page = await self._call("POST", f"{API}/runs/search", json=body)
                    runs.extend(_run(r) for r in page.get("runs", []))
                    if not page.get("next_page_token"):
                        break
                    body["page_token"] = page["next_page_token"]
            self._runs = sorted(runs, key=lambda r: r.run_id)
        return self._runs

    async def parents(self) -> dict[str, str]:
        return {
            run.run_id: run.tags["mlflow.parentRunId"]
            for run in await self._all_runs()
            if "mlflow.parentRunId" in run.tags
        }

    async def count_runs(self, experiment_ids: list[str]) -> int | None:
        wanted = set(experiment_ids)
        return sum(run.experiment_id in wanted for run in await self._all_runs())

    async def runs(
        self, experiment_ids: list[str], size: BatchSize
    ) -> AsyncIterator[list[SourceRun]]:
        wanted = set(experiment_ids)
        selected = [run for run in await self._all_runs() if run.experiment_id in wanted]
        start = 0
        while start < len(selected):
            yield selected[start : start + size.runs]
            start += size.runs

    async def metric_counts(self, run_ids: list[str]) -> dict[tuple[str, str], int] | None:
        return None

    async def _history(self, run_id: str, key: str) -> list[Point]:
        points: list[Point] = []
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        while True:
            page = await self._call("GET", f"{API}/metrics/get-history", params=params)
            for m in page.get("metrics", []):
                value = _number(m["value"])
                nan = value != value
                ts, step = int(m.get("timestamp", 0)), int(m.get("step", 0))
                points.append((key, 0.0 if nan else value, ts, step, int(nan)))
            if not page.get("next_page_token"):
                return points
            params["page_token"] = page["next_page_token"]

    async def histories(self, wanted: dict[str, list[str] | None]) -> dict[str, list[Point]]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(run_id: str, key: str) -> tuple[str, list[Point]]:
            async with gate:
                return run_id, await self._history(run_id, key)

        out: dict[str, list[Point]] = {}
        latest = {run.run_id: sorted(run.latest) for run in await self._all_runs()}
        jobs = [
            one(run_id, key)
            for run_id, keys in wanted.items()
            for key in (keys if keys is not None else latest.get(run_id, []))
        ]
        for run_id, points in await asyncio.gather(*jobs):
            out.setdefault(run_id, []).extend(points)
        return out

    async def logged_models(self, experiment_ids: list[str]) -> list[SourceModel]:
        out: list[SourceModel] = []
        body: dict[str, Any] = {"experiment_ids": experiment_ids, "max_results": 100}
        while experiment_ids:
            page = await self._call("POST", f"{API}/logged-models/search", json=body)
            for model in page.get("models", []):
                info, data = model["info"], model.get("data", {})
                out.append(
                    SourceModel(
                        model_id=info["model_id"],
                        experiment_id=str(info["experiment_id"]),
                        name=info["name"],
                        artifact_location=info.get("artifact_uri", ""),
                        creation_time=_int(info.get("creation_timestamp_ms")),
                        last_updated_time=_int(info.get("last_updated_timestamp_ms")),
                        status=str(info.get("status", "LOGGED_MODEL_PENDING")),
                        lifecycle_stage=info.get("lifecycle_stage", "active"),
                        model_type=info.get("model_type"),
                        source_run_id=info.get("source_run_id"),
                        tags=_pairs(info.get("tags")),
                        params=_pairs(data.get("params")),
                    )
                )
            if not page.get("next_page_token"):
                break
            body["page_token"] = page["next_page_token"]
        return out

    async def _paged(self, path: str, params: dict[str, Any], items: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = await self._call("GET", path, params=params)
            out.extend(page.get(items, []))
            if not page.get("next_page_token"):
                return out
            params = {**params, "page_token": page["next_page_token"]}

    async def registry(self) -> list[SourceRegisteredModel]:
        path = f"{API}/registered-models/search"
        found = await self._paged(path, {"max_results": 1000}, "registered_models")
        # The search leaves prompts out unless asked for them.
        prompts = {"max_results": 1000, "filter": f"tags.`{IS_PROMPT}` = 'true'"}
        found += await self._paged(path, prompts, "registered_models")
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(body: dict[str, Any]) -> SourceRegisteredModel:
            name = body["name"]
            is_prompt = _pairs(body.get("tags")).get(IS_PROMPT) == "true"
            query = f"name={_quoted(name)}" + (
                f" AND tags.`{IS_PROMPT}` = 'true'" if is_prompt else ""
            )
            async with gate:
                versions = await self._paged(
                    f"{API}/model-versions/search",
                    {"filter": query, "max_results": 200_000},
                    "model_versions",
                )
                return SourceRegisteredModel(
                    name=name,
                    creation_time=_int(body.get("creation_timestamp")),
                    last_updated_time=_int(body.get("last_updated_timestamp")),
                    description=body.get("description"),
                    tags=_pairs(body.get("tags")),
                    aliases={a["alias"]: int(a["version"]) for a in body.get("aliases", [])},
                    versions=[await self._version(name, v) for v in versions],
                )

        models = await asyncio.gather(*(one(body) for body in found))
        return sorted({m.name: m for m in models}.values(), key=lambda m: m.name)

    async def _version(self, name: str, body: dict[str, Any]) -> SourceVersion:
        number = int(body["version"])
        where = await self._call(
            "GET",
            f"{API}/model-versions/get-download-uri",
            params={"name": name, "version": str(number)},
        )
        return SourceVersion(
            version=number,
            creation_time=_int(body.get("creation_timestamp")),
            last_updated_time=_int(body.get("last_updated_timestamp")),
            description=body.get("description"),
            user_id=body.get("user_id") or None,
            stage=body.get("current_stage", "None"),
            source=body.get("source", ""),
            storage_location=where.get("artifact_uri"),
            run_id=body.get("run_id") or None,
            run_link=body.get("run_link"),
            tags=_pairs(body.get("tags")),
        )

    def artifacts(self, uri: str) -> ArtifactReader | None:
        return self.resolver.reader(uri)

    def reference(self, uri: str) -> str:
        return self.resolver.reference(uri)

    async def close(self) -> None:
        await self.http.aclose()


async def open_rest_source(url: str, proxied: str | None) -> RestSource:
    http = source_http_client()
    source = RestSource(http, url, Resolver(http, url.rstrip("/"), proxied))
    try:
        await source._call("GET", f"{API}/experiments/get", params={"experiment_id": "0"})
    except SourceUnavailable as exc:
        if "answered 404" not in str(exc):  # a server without experiment 0 is still MLflow
            await http.aclose()
            raise
    return source
