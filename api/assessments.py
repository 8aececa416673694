"""Assessments of traces (feedback, expectations) under /api/3.0/mlflow/traces/{id}."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trackledger.api import render
from trackledger.api import trace_wire as w
from trackledger.api.calls import backend, execute, path_param
from trackledger.api.traces import info_or_404
from trackledger.eventlog import trace_commands as tc
from trackledger.eventlog.errors import NotFound
from trackledger.eventlog.results import AssessmentId

__all__ = ["assessment_routes"]

_EMPTY = render.json_response({})
#: Update-mask paths (either spelling) and the assessment field each one updates.
_MASK = {
    "assessment_name": "name",
    "assessmentName": "name",
    "feedback": "value",
    "expectation": "value",
    "rationale": "rationale",
    "metadata": "metadata",
}


async def _assessment(request: Request, trace_id: str, assessment_id: str) -> Response:
    await info_or_404(request, trace_id)
    found = await backend(request).traces.assessment(trace_id, assessment_id)
    if found is None:
        raise NotFound(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
    return render.json_response({"assessment": w.assessment_json(found)})


async def create(request: Request) -> Response:
    data = await w.body(request)
    trace_id = path_param(request, "trace_id")
    assessment = w.assessment_in(w.field(data, "assessment"))
    result = await execute(request, tc.CreateAssessment(trace_id=trace_id, assessment=assessment))
    assert isinstance(result, AssessmentId)
    return await _assessment(request, trace_id, result.assessment_id)


async def get(request: Request) -> Response:
    return await _assessment(
        request, path_param(request, "trace_id"), path_param(request, "assessment_id")
    )


def _paths(mask: Any) -> list[str]:
    """A FieldMask in JSON: "a,b" (lowerCamel paths), or {"paths": [...]}."""
    if isinstance(mask, str):
        return [p.strip() for p in mask.split(",") if p.strip()]
    if isinstance(mask, dict) and isinstance(mask.get("paths"), list):
        return [str(p) for p in mask["paths"]]
    if isinstance(mask, list):
        return [str(p) for p in mask]
    raise w.bad("Missing value for required parameter 'update_mask'.")


async def update(request: Request) -> Response:
    data = await w.body(request)
    trace_id, assessment_id = path_param(request, "trace_id"), path_param(request, "assessment_id")
    raw = w.field(data, "assessment")
    if not isinstance(raw, dict):
        raise w.bad("Missing value for required parameter 'assessment'.")
    given = w.assessment_in(raw)
    fields = sorted({_MASK[p] for p in _paths(w.field(data, "update_mask")) if p in _MASK})
    command = tc.UpdateAssessment(
        trace_id=trace_id,
        assessment_id=assessment_id,
        fields=fields,
        name=given.name,
        kind=given.kind,
        value=given.value,
        error=given.error,
        rationale=given.rationale,
        metadata=given.metadata,
    )
    await execute(request, command)
    return await _assessment(request, trace_id, assessment_id)


async def delete(request: Request) -> Response:
    await execute(
        request,
        tc.DeleteAssessment(
            trace_id=path_param(request, "trace_id"),
            assessment_id=path_param(request, "assessment_id"),
        ),
    )
    return _EMPTY


assessment_routes = [
    Route("/traces/{trace_id}/assessments", create, methods=["POST"]),
    Route("/traces/{trace_id}/assessments/{assessment_id}", get, methods=["GET"]),
    Route("/traces/{trace_id}/assessments/{assessment_id}", update, methods=["PATCH"]),
    Route("/traces/{trace_id}/assessments/{assessment_id}", delete, methods=["DELETE"]),
]
