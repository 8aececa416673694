"""The request messages of MLflow's tracking API, as msgspec structs (reference section 3).

Every field is optional here: which are required, and what "required" means (not null and
not empty), is checked by the handlers and decisions with MLflow's wording.
"""

from __future__ import annotations

import msgspec

from trackledger.api.wire import Int32, Int64

__all__ = [
    "AsOfRequest",
    "CollectRequest",
    "CreateExperimentRequest",
    "CreateRunRequest",
    "DatasetInputWire",
    "DeleteRunRequest",
    "DeleteRunsRequest",
    "DeleteTagRequest",
    "EventsRequest",
    "ExperimentIdRequest",
    "ExperimentTagRequest",
    "GetExperimentByNameRequest",
    "GetExperimentRequest",
    "GetMetricHistoryRequest",
    "GetRunRequest",
    "HistoryRequest",
    "LogBatchRequest",
    "LogInputsRequest",
    "LogMetricRequest",
    "LogParamRequest",
    "MetricWire",
    "RestoreRunsRequest",
    "RunIdRequest",
    "SearchExperimentsRequest",
    "SearchRunsRequest",
    "SetTagRequest",
    "TagWire",
    "UpdateExperimentRequest",
    "UpdateRunRequest",
]


class TagWire(msgspec.Struct):
    key: str | None = None
    value: str | None = None


class MetricWire(msgspec.Struct):
    key: str | None = None
    value: float | None = None
    timestamp: Int64 | None = None
    step: Int64 | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class CreateExperimentRequest(msgspec.Struct):
    name: str | None = None
    artifact_location: str | None = None
    tags: list[TagWire] = []


class GetExperimentRequest(msgspec.Struct):
    experiment_id: str | None = None


class GetExperimentByNameRequest(msgspec.Struct):
    experiment_name: str | None = None


class SearchExperimentsRequest(msgspec.Struct):
    max_results: Int64 | None = None
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: str | int | None = None


class UpdateExperimentRequest(msgspec.Struct):
    experiment_id: str | None = None
    new_name: str | None = None


class ExperimentIdRequest(msgspec.Struct):
    experiment_id: str | None = None


class ExperimentTagRequest(msgspec.Struct):
    experiment_id: str | None = None
    key: str | None = None
    value: str | None = None


class CreateRunRequest(msgspec.Struct):
    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: Int64 | None = None
    tags: list[TagWire] = []


class RunIdRequest(msgspec.Struct):
    run_id: str | None = None
    run_uuid: str | None = None


class GetRunRequest(RunIdRequest):
    pass


class DeleteRunRequest(RunIdRequest):
    #: trackledger's extension: delete the run's descendants too.
    include_descendants: bool = False


class DeleteRunsRequest(msgspec.Struct):
    experiment_id: str | None = None
    max_timestamp_millis: Int64 | None = None
    max_runs: Int32 | None = None


class RestoreRunsRequest(msgspec.Struct):
    experiment_id: str | None = None
    min_timestamp_millis: Int64 | None = None
    max_runs: Int32 | None = None


class HistoryRequest(msgspec.Struct):
    run_id: str | None = None
    experiment_id: str | None = None
    trace_id: str | None = None
    max_results: Int32 | None = None
    page_token: str | None = None
    expand: bool = False


class AsOfRequest(RunIdRequest):
    as_of: Int64 | None = None


class EventsRequest(msgspec.Struct):
    after: str | None = None
    limit: Int32 | None = None
    wait_ms: Int32 | None = None
    expand: bool = False


class CollectRequest(msgspec.Struct):
    older_than: str | None = None


class UpdateRunRequest(RunIdRequest):
    status: str | int | None = None
    end_time: Int64 | None = None
    run_name: str | None = None


class LogMetricRequest(MetricWire):
    run_id: str | None = None
    run_uuid: str | None = None


class LogParamRequest(RunIdRequest):
    key: str | None = None
    value: str | None = None


class SetTagRequest(RunIdRequest):
    key: str | None = None
    value: str | None = None


class DeleteTagRequest(msgspec.Struct):
    run_id: str | None = None
    key: str | None = None


class LogBatchRequest(msgspec.Struct):
    run_id: str | None = None
    metrics: list[MetricWire] = []
    params: list[TagWire] = []
    tags: list[TagWire] = []


class DatasetWire(msgspec.Struct):
    name: str | None = None
    digest: str | None = None
    source_type: str | None = None
    source: str | None = None
    schema: str | None = None
    profile: str | None = None


class DatasetInputWire(msgspec.Struct):
    tags: list[TagWire] = []
    dataset: DatasetWire | None = None


class ModelInputWire(msgspec.Struct):
    model_id: str | None = None


class LogInputsRequest(msgspec.Struct):
    run_id: str | None = None
    datasets: list[DatasetInputWire] = []
    models: list[ModelInputWire] = []


class SearchRunsRequest(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: str | int | None = None
    max_results: Int32 | None = None
    order_by: list[str] = []
    page_token: str | None = None


class GetMetricHistoryRequest(RunIdRequest):
    metric_key: str | None = None
    max_results: Int32 | None = None
    page_token: str | None = None
