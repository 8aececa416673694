"""Experiment search: name, experiment_id, creation_time, last_update_time and tags."""

from __future__ import annotations

from trackledger.projections.search.ast import Comparison, Field
from trackledger.projections.search.compile import (
    MAX_KEYS,
    check_expr,
    compile_expr,
    compile_tree,
    fields_of,
    missing_last,
    too_many_keys,
)
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.parser import parse_filter, parse_order_by
from trackledger.projections.search.request import check_order_by
from trackledger.projections.search.sql import SqlBuilder

__all__ = ["compile_experiment_search"]

_COLUMNS = {
    "name": "e.name",
    "experiment_id": "e.experiment_id",
    "creation_time": "e.creation_time",
    "last_update_time": "e.last_update_time",
}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"}
_TAG_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}


def _attribute(field: Field) -> str:
    if field.entity != "attribute" or field.key not in _COLUMNS:
        raise FilterError(
            f"invalid field '{field.key}' for experiments; use name, experiment_id, "
            "creation_time, last_update_time or tags.<key>",
            field.position,
            field.key,
        )
    return _COLUMNS[field.key]


def _experiment_ids(c: Comparison) -> tuple[int, ...]:
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    try:
        return tuple(int(str(v)) for v in values)
    except ValueError:
        raise FilterError(
            "experiment_id values must be quoted integers", c.position, str(values)
        ) from None


def _comparison(c: Comparison, tags: dict[str, str], b: SqlBuilder) -> str:
    if c.field.entity == "tag":
        check_expr(c, _TAG_OPS, numeric=False)
        alias = tags[c.field.key]
        return compile_expr(b, f"{alias}.value", c.op, c.value)
    column = _attribute(c.field)
    if c.field.key == "experiment_id":
        check_expr(c, {"=", "!=", "IN", "NOT IN"}, numeric=False)
        ids = _experiment_ids(c)
        return compile_expr(b, column, c.op, ids if isinstance(c.value, tuple) else ids[0])
    if c.field.key == "name":
        check_expr(c, _STRING_OPS, numeric=False)
        return compile_expr(b, column, c.op, c.value)
    check_expr(c, _NUMERIC_OPS, numeric=True)
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if not all(isinstance(v, int) for v in values):
        raise FilterError(f"{c.field.key} compares with integers only", c.position, str(c.value))
    return compile_expr(b, column, c.op, c.value)


def compile_experiment_search(
    b: SqlBuilder,
    *,
    filter_text: str | None,
    order_by: list[str],
    stages: tuple[str, ...],
    limit: int,
    offset: int,
    restrict: tuple[bool, tuple[int, ...]] | None = None,
) -> str:
    """``restrict`` = (True, ids): only these experiments; (False, ids): all but these."""
    expr = parse_filter(filter_text)
    tags: dict[str, str] = {}
    joins = []
    for field in fields_of(expr):
        if field.entity == "tag" and field.key not in tags:
            if len(tags) == MAX_KEYS:
                raise too_many_keys(field)
            alias = tags[field.key] = f"t{len(tags)}"
            joins.append(
                f" LEFT JOIN experiment_tags {alias} ON {alias}.experiment_id = e.experiment_id "
                f"AND {alias}.key = {b.param(field.key)} AND {alias}.value IS NOT NULL"
            )
    conditions = [f"e.lifecycle_stage IN {b.params_list(stages)}"]
    if restrict is not None:
        only, ids = restrict
        if ids:
            conditions.append(f"e.experiment_id {'' if only else 'NOT '}IN {b.params_list(ids)}")
        elif only:
            conditions.append("1 = 0")
    if expr is not None:
        conditions.append(f"({compile_tree(expr, lambda c: _comparison(c, tags, b))})")
    order_parts = []
    check_order_by(order_by)
    keys = [parse_order_by(clause) for clause in order_by]
    for key in keys:
        column = _attribute(key.field)
        ordered = b.text_order(column) if key.field.key == "name" else column
        order_parts.extend(
            [missing_last(column), f"{ordered} {'ASC' if key.ascending else 'DESC'}"]
        )
    if not keys:
        order_parts = ["e.creation_time DESC", "e.experiment_id ASC"]
    elif not any(k.field.key == "experiment_id" for k in keys):
        order_parts.append("e.experiment_id DESC")
    return (
        f"SELECT e.experiment_id FROM experiments e{''.join(joins)} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {', '.join(order_parts)} "
        f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )
