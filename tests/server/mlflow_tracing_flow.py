"""Tracing with the real mlflow client; prints what it read back as JSON.

Run by test_mlflow_tracing.py in its own process, with MLFLOW_TRACKING_URI set: traced
functions and spans (nested, failing, with attributes), reading traces back, searching
them (pandas and lists), tags, assessments, run links, deletes, and spans sent by a plain
OpenTelemetry exporter to /v1/traces.
"""

from __future__ import annotations

import json
import os

import mlflow
from mlflow import MlflowClient
from mlflow.entities import AssessmentSource, SpanType


@mlflow.trace(span_type=SpanType.TOOL)
def lookup(city: str) -> str:
    if city == "Atlantis":
        raise KeyError(city)
    return {"Paris": "France"}[city]


@mlflow.trace(span_type=SpanType.CHAIN)
def agent(question: str, city: str) -> str:
    with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
        span.set_inputs({"query": question})
        span.set_attributes({"top_k": 3, "score": 0.75, "filters": ["fr", "eu"]})
        span.set_outputs([{"doc": "Paris is in France"}])
    try:
        lookup("Atlantis")
    except KeyError:
        pass
    mlflow.update_current_trace(tags={"env": "prod"}, metadata={"session": "s1"})
    return f"{city} is in {lookup(city)}"


@mlflow.trace
def failing() -> None:
    raise ValueError("boom")


def _spans(trace: mlflow.entities.Trace) -> list[dict]:
    by_id = {s.span_id: s.name for s in trace.data.spans}
    return [
        {
            "name": s.name,
            "parent": by_id.get(s.parent_id),
            "type": s.span_type,
            "status": s.status.status_code.value,
            "inputs": s.inputs,
            "outputs": s.outputs,
            "attributes": {k: v for k, v in s.attributes.items() if not k.startswith("mlflow.")},
            "events": [e.name for e in s.events],
        }
        for s in trace.data.spans
    ]


def _otel_exporter_trace(url: str, experiment_id: str) -> str:
    """Spans from a plain OpenTelemetry SDK, exported over OTLP/HTTP (protobuf)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel"}))
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"x-mlflow-experiment-id": experiment_id}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("flow")
    with tracer.start_as_current_span("otel-root") as root:
        root.set_attribute("answer", 42)
        with tracer.start_as_current_span("otel-child") as child:
            child.add_event("checkpoint", {"step": 1})
    provider.shutdown()
    return f"tr-{root.get_span_context().trace_id:032x}"


def main() -> None:
    client = MlflowClient()
    experiment_id = mlflow.set_experiment("tracing-flow").experiment_id
    answer = agent("Where is Paris?", "Paris")
    first = mlflow.get_last_active_trace_id()
    try:
        failing()
    except ValueError:
        pass
    failed = mlflow.get_last_active_trace_id()
    with mlflow.start_run() as run:
        agent("And again?", "Paris")
        in_run = mlflow.get_last_active_trace_id()
    with mlflow.start_span(name="manual") as span:
        span.set_attribute("kind", "manual")
    manual = span.trace_id
    mlflow.flush_trace_async_logging()

    trace = mlflow.get_trace(first)
    mlflow.set_trace_tag(first, "reviewed", "yes")
    mlflow.delete_trace_tag(first, "env")
    feedback = mlflow.log_feedback(
        trace_id=first,
        name="correct",
        value=True,
        source=AssessmentSource(source_type="HUMAN", source_id="alice"),
        rationale="matches the atlas",
    )
    expectation = mlflow.log_expectation(
        trace_id=first, name="expected", value={"country": "France"}
    )
    override = mlflow.override_feedback(
        trace_id=first, assessment_id=feedback.assessment_id, value=False, rationale="on review"
    )
    mlflow.delete_assessment(trace_id=first, assessment_id=expectation.assessment_id)
    assessed = mlflow.get_trace(first)

    client.link_traces_to_run([manual], run.info.run_id)
    frame = mlflow.search_traces(locations=[experiment_id])
    errors = mlflow.search_traces(
        locations=[experiment_id], filter_string="status = 'ERROR'", return_type="list"
    )
    prod = mlflow.search_traces(
        locations=[experiment_id], filter_string="tags.env = 'prod'", return_type="list"
    )
    by_run = mlflow.search_traces(
        locations=[experiment_id], run_id=run.info.run_id, return_type="list"
    )
    retrievers = mlflow.search_traces(
        locations=[experiment_id], filter_string="span.type = 'RETRIEVER'", return_type="list"
    )

    otel = _otel_exporter_trace(os.environ["MLFLOW_TRACKING_URI"], experiment_id)
    otel_trace = mlflow.get_trace(otel)

    deleted = client.delete_traces(experiment_id, trace_ids=[failed])
    after_delete = mlflow.search_traces(locations=[experiment_id], return_type="list")
    print(
        json.dumps(
            {
                "answer": answer,
                "first": first,
                "failed": failed,
                "in_run": in_run,
                "manual": manual,
                "run_id": run.info.run_id,
                "state": trace.info.state.value,
                "request_preview": trace.info.request_preview,
                "tags": trace.info.tags,
                "metadata": trace.info.trace_metadata,
                "spans": _spans(trace),
                "assessed_tags": assessed.info.tags,
                "assessments": sorted(
                    (a.name, a.valid, getattr(a, "value", None), a.rationale)
                    for a in assessed.info.assessments
                ),
                "override_overrides": override.overrides == feedback.assessment_id,
                "frame_columns": sorted(frame.columns),
                "frame_ids": sorted(frame["trace_id"]),
                "frame_spans": sorted(len(s) for s in frame["spans"]),
                "errors": [t.info.trace_id for t in errors],
                "error_events": [e.name for s in errors[0].data.spans for e in s.events],
                "prod": sorted(t.info.trace_id for t in prod),
                "by_run": sorted(t.info.trace_id for t in by_run),
                "retrievers": sorted(t.info.trace_id for t in retrievers),
                "otel": otel,
                "otel_tags": otel_trace.info.tags,
                "otel_spans": _spans(otel_trace),
                "deleted": deleted,
                "after_delete": sorted(t.info.trace_id for t in after_delete),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
