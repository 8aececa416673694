"""MLflow's experiment endpoints (reference section 3.1)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api.calls import backend, execute, experiment_id, required, view_type
from trackledger.api.errors import ApiError
from trackledger.api.limits import page_size
from trackledger.api.requests import (
    CreateExperimentRequest,
    ExperimentIdRequest,
    ExperimentTagRequest,
    GetExperimentByNameRequest,
    GetExperimentRequest,
    SearchExperimentsRequest,
    UpdateExperimentRequest,
)
from trackledger.api.wire import read
from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import ExperimentId
from trackledger.projections.search import decode_page_token, encode_page_token
from trackledger.projections.views import ExperimentView

__all__ = ["routes"]

_EMPTY = render.json_response({})


async def create(request: Request) -> Response:
    req = await read(request, CreateExperimentRequest)
    result = await execute(
        request,
        c.CreateExperiment(
            name=req.name,
            artifact_location=_absolute_if_local(req.artifact_location),
            tags=[c.TagIn(t.key, t.value) for t in req.tags],
        ),
    )
    assert isinstance(result, ExperimentId)
    return render.json_response({"experiment_id": result.experiment_id})


def _absolute_if_local(location: str | None) -> str | None:
    """A relative local path is made absolute against the server's working directory, as
    MLflow's server does (``resolve_uri_if_local``); URIs stay as given."""
    if not location or urllib.parse.urlsplit(location).scheme:
        return location
    path = Path(location)
    return location if path.is_absolute() else str(Path.cwd() / path)


async def get(request: Request) -> Response:
    req = await read(request, GetExperimentRequest)
    exp_id = experiment_id(req.experiment_id)
    found = await backend(request).reads.get_experiment(exp_id)
    if found is None:
        raise NotFound(f"No Experiment with id={exp_id} exists")
    return render.json_response({"experiment": render.experiment(found)})


async def get_by_name(request: Request) -> Response:
    req = await read(request, GetExperimentByNameRequest)
    name = required(req.experiment_name, "experiment_name")
    found = await backend(request).reads.get_experiment_by_name(name)
    if found is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return render.json_response({"experiment": render.experiment(found)})


async def search(request: Request) -> Response:
    req = await read(request, SearchExperimentsRequest, lists=frozenset({"order_by"}))
    limit = page_size(req.max_results, default=1000)
    offset = decode_page_token(req.page_token)
    page = await backend(request).reads.search_experiments(
        filter_text=req.filter,
        order_by=req.order_by,
        view_type=view_type(req.view_type, "view_type"),
        max_results=limit,
        offset=offset,
    )
    body: dict[str, object] = {}
    experiments = [render.experiment(e) for e in page.items if isinstance(e, ExperimentView)]
    if experiments:
        body["experiments"] = experiments
    if page.next_offset is not None:
        body["next_page_token"] = encode_page_token(page.next_offset)
    return render.json_response(body)


async def update(request: Request) -> Response:
    req = await read(request, UpdateExperimentRequest)
    exp_id = experiment_id(req.experiment_id)
    await execute(request, c.RenameExperiment(experiment_id=exp_id, new_name=req.new_name))
    return _EMPTY


async def delete(request: Request) -> Response:
    req = await read(request, ExperimentIdRequest)
    await execute(request, c.DeleteExperiment(experiment_id=experiment_id(req.experiment_id)))
    return _EMPTY


async def restore(request: Request) -> Response:
    req = await read(request, ExperimentIdRequest)
    await execute(request, c.RestoreExperiment(experiment_id=experiment_id(req.experiment_id)))
    return _EMPTY


async def set_tag(request: Request) -> Response:
    req = await read(request, ExperimentTagRequest)
    exp_id = experiment_id(req.experiment_id)
    await execute(request, c.SetExperimentTag(experiment_id=exp_id, key=req.key, value=req.value))
    return _EMPTY


async def delete_tag(request: Request) -> Response:
    req = await read(request, ExperimentTagRequest)
    exp_id = experiment_id(req.experiment_id)
    await execute(request, c.DeleteExperimentTag(experiment_id=exp_id, key=req.key))
    return _EMPTY


#: Experiments one search-datasets request may name (as MLflow).
MAX_DATASET_EXPERIMENTS = 20


class SearchDatasetsRequest(msgspec.Struct):
    experiment_ids: list[str] = []


async def search_datasets(request: Request) -> Response:
    """The datasets the experiments' runs took as input (the UI's dataset filter)."""
    req = await read(request, SearchDatasetsRequest)
    if not req.experiment_ids:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            "SearchDatasets request must specify at least one experiment_id.",
        )
    if len(req.experiment_ids) > MAX_DATASET_EXPERIMENTS:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"SearchDatasets request cannot specify more than {MAX_DATASET_EXPERIMENTS} "
            f"experiment_ids. Received {len(req.experiment_ids)} experiment_ids.",
        )
    ids = [int(experiment_id(value, "experiment_ids")) for value in req.experiment_ids]
    summaries = await backend(request).browse.dataset_summaries(ids)
    body = {"dataset_summaries": msgspec.to_builtins(summaries)} if summaries else {}
    return render.json_response(body)


routes = [
    Route("/experiments/create", create, methods=["POST"]),
    Route("/experiments/search-datasets", search_datasets, methods=["POST"]),
    Route("/experiments/get", get, methods=["GET"]),
    Route("/experiments/get-by-name", get_by_name, methods=["GET"]),
    Route("/experiments/search", search, methods=["POST", "GET"]),
    Route("/experiments/update", update, methods=["POST"]),
    Route("/experiments/delete", delete, methods=["POST"]),
    Route("/experiments/restore", restore, methods=["POST"]),
    Route("/experiments/set-experiment-tag", set_tag, methods=["POST"]),
    Route("/experiments/delete-experiment-tag", delete_tag, methods=["POST"]),
]
