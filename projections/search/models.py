"""Logged-model search: the filter language evaluated over an experiment's models.

An experiment holds few logged models, so they are filtered in memory: attributes
(name, model_id, model_type, status, source_run_id, creation_timestamp,
last_updated_timestamp), ``tags.*``, ``params.*`` and ``metrics.*``, with = != < <= > >=
LIKE ILIKE, and the AND/OR/NOT/IN extensions.

As in MLflow, a metric comparison holds when any point the model has of that metric
(any step, run or dataset) passes it, and ``datasets`` (name, and digest if given) limits
those points to the datasets named; with datasets but no metric comparison, only models
with a point on one of them match.
"""

from __future__ import annotations

import re

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Not, Or
from trackledger.projections.search.compile import fields_of
from trackledger.projections.search.errors import FilterError
from trackledger.projections.views import LoggedModelView, ModelMetric

__all__ = ["DatasetRef", "model_matches"]


class DatasetRef(msgspec.Struct, frozen=True):
    """A dataset a logged-model search reads metrics on: its name, and its digest if
    given (any digest otherwise)."""

    name: str
    digest: str | None = None

    def holds(self, metric: ModelMetric) -> bool:
        return metric.dataset_name == self.name and self.digest in (None, metric.dataset_digest)

_ATTRIBUTES = {
    "name": "name",
    "model_id": "model_id",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_run_id",
    "creation_timestamp": "creation_time",
    "creation_time": "creation_time",
    "last_updated_timestamp": "last_updated_time",
    "last_updated_time": "last_updated_time",
}


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.DOTALL)


def _value(c: Comparison, model: LoggedModelView) -> object:
    field = c.field
    if field.entity == "tag":
        return next((t.value for t in model.tags if t.key == field.key), None)
    if field.entity == "parameter":
        return next((p.value for p in model.params if p.key == field.key), None)
    if field.entity == "attribute" and field.key in _ATTRIBUTES:
        return getattr(model, _ATTRIBUTES[field.key])
    raise FilterError(
        "invalid field for logged models; use name, model_id, model_type, status, "
        "source_run_id, creation_timestamp, last_updated_timestamp, tags.<key>, params.<key> "
        "or metrics.<key>",
        field.position,
        field.key,
    )


def _compare(
    c: Comparison, model: LoggedModelView, datasets: tuple[DatasetRef, ...]
) -> bool | None:
    if c.field.entity == "metric" and c.field.aggregate == "latest":
        points = [
            m.value
            for m in model.metrics
            if m.key == c.field.key and (not datasets or any(d.holds(m) for d in datasets))
        ]
        if c.op in ("IS NULL", "IS NOT NULL"):
            return bool(points) == (c.op == "IS NOT NULL")
        return any(_test(c, float(value)) for value in points)
    return _test(c, _value(c, model))


def _test(c: Comparison, left: object) -> bool | None:
    if c.op == "IS NULL":
        return left is None
    if c.op == "IS NOT NULL":
        return left is not None
    if left is None:
        return None
    right = c.value
    match c.op:
        case "=":
            return left == right
        case "!=":
            return left != right
        case "LIKE" | "ILIKE":
            flags = re.IGNORECASE if c.op == "ILIKE" else 0
            return bool(_like(str(right), flags).fullmatch(str(left)))
        case "IN" | "NOT IN":
            found = left in (right if isinstance(right, tuple) else (right,))
            return found if c.op == "IN" else not found
    if not isinstance(left, (int, float)) or not isinstance(right, (int, float)):
        raise FilterError(f"{c.op} compares numbers only", c.position, c.op)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[c.op]


def _evaluate(
    expr: Expr, model: LoggedModelView, datasets: tuple[DatasetRef, ...]
) -> bool | None:
    match expr:
        case Comparison():
            return _compare(expr, model, datasets)
        case And():
            values = [_evaluate(p, model, datasets) for p in expr.parts]
            return False if False in values else (None if None in values else True)
        case Or():
            values = [_evaluate(p, model, datasets) for p in expr.parts]
            return True if True in values else (None if None in values else False)
        case Not():
            value = _evaluate(expr.part, model, datasets)
            return None if value is None else not value
    raise TypeError(f"not a filter expression: {expr!r}")


def model_matches(
    expr: Expr | None, model: LoggedModelView, datasets: tuple[DatasetRef, ...] = ()
) -> bool:
    """Whether ``model`` passes the filter, its metrics read on ``datasets`` (all, if
    none are named)."""
    if datasets and not any(f.entity == "metric" for f in fields_of(expr)):
        if not any(d.holds(m) for m in model.metrics for d in datasets):
            return False
    return expr is None or _evaluate(expr, model, datasets) is True
