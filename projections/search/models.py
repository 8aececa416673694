"""Logged-model search: the filter language evaluated over an experiment's models.

An experiment holds few logged models, so they are filtered in memory: attributes
(name, model_id, model_type, status, source_run_id, creation_timestamp,
last_updated_timestamp), ``tags.*`` and ``params.*``, with = != < <= > >= LIKE ILIKE, and
the AND/OR/NOT/IN extensions.
"""

from __future__ import annotations

import re

from trackledger.projections.search.ast import And, Comparison, Expr, Not, Or
from trackledger.projections.search.errors import FilterError
from trackledger.projections.views import LoggedModelView

__all__ = ["model_matches"]

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
        "source_run_id, creation_timestamp, last_updated_timestamp, tags.<key> or params.<key>",
        field.position,
        field.key,
    )


def _compare(c: Comparison, model: LoggedModelView) -> bool | None:
    left = _value(c, model)
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


def _evaluate(expr: Expr, model: LoggedModelView) -> bool | None:
    match expr:
        case Comparison():
            return _compare(expr, model)
        case And():
            values = [_evaluate(p, model) for p in expr.parts]
            return False if False in values else (None if None in values else True)
        case Or():
            values = [_evaluate(p, model) for p in expr.parts]
            return True if True in values else (None if None in values else False)
        case Not():
            value = _evaluate(expr.part, model)
            return None if value is None else not value
    raise TypeError(f"not a filter expression: {expr!r}")


def model_matches(expr: Expr | None, model: LoggedModelView) -> bool:
    return expr is None or _evaluate(expr, model) is True
