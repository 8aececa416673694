"""How a run filter's fields and order keys read the runs: each metric, param and tag a
search reads is a LEFT JOIN (a missing row reads as NULL), each attribute a column of
the runs, and each comparison or order key becomes SQL on them (``runs.py`` assembles the
plans)."""

from __future__ import annotations

from trackledger.projections.search.ast import And, Comparison, Expr, Field, OrderKey
from trackledger.projections.search.compile import (
    MAX_KEYS,
    check_expr,
    compile_expr,
    compile_tree,
    fields_of,
    missing_last,
    too_many_keys,
)
from trackledger.projections.search.drivers import RUN_ORDER_COLUMNS
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.sql import SqlBuilder
from trackledger.projections.search.text_sets import RUN_NAME_KEYS, live_tag, prefix_decides

__all__ = [
    "INDEXED_ORDER",
    "NULLABLE_ORDER",
    "ORDER_ATTRIBUTES",
    "Joins",
    "attribute_column",
    "comparison_sql",
    "field_column",
    "join_key",
    "on_row",
    "order_terms",
    "split_on_key",
]

_STRING_ATTRIBUTES = {
    "run_id": "r.run_id",
    "user_id": "r.user_id",
    "status": "r.status",
    "artifact_uri": "r.artifact_uri",
    "lifecycle_stage": "r.lifecycle_stage",
}
_NUMERIC_ATTRIBUTES = {
    "start_time": "r.start_time",
    "created": "r.start_time",
    "Created": "r.start_time",
    "end_time": "r.end_time",
}
ORDER_ATTRIBUTES = {
    "run_id": "r.run_id",
    "run_name": "r.name",
    "user_id": "r.user_id",
    "status": "r.status",
    "artifact_uri": "r.artifact_uri",
    "start_time": "r.start_time",
    "created": "r.start_time",
    "Created": "r.start_time",
    "end_time": "r.end_time",
}
#: Order columns with an index of their own on the runs (``schema.RUN_ORDER_COLUMNS``).
INDEXED_ORDER = {f"r.{column}" for column, _ in RUN_ORDER_COLUMNS}
NULLABLE_ORDER = ("r.end_time", "r.user_id")
_DATASET_COLUMNS = {"name": "d.name", "digest": "d.digest", "context": "d.context"}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}


class Joins:
    """One LEFT JOIN per (entity, key) the query reads; missing rows read as NULL. A search
    reads at most ``MAX_KEYS`` keys: SQLite joins at most 64 tables, and PostgreSQL's
    planning time grows fast with the joins (the same limit on both: one search, one
    answer).

    ``bound``: a key whose row the query reads already, as the table it walks (alias,
    entity, key): that key is read from it, not joined.

    ``probed``: on PostgreSQL, each key a LATERAL subquery of the run (fenced by OFFSET 0),
    which its planner can only probe run by run. A window reads a few thousand runs from
    an index of the runs and probes each; judging a filter's key by statistics of every
    key's values in one column, the planner could take it for selective and hash or walk
    its rows instead (``tags.priority >= -1 AND run_name NOT LIKE '%8' AND params.dropout
    <= 1.5`` ordered by status: 95-109 ms that way, 15 probed). So are windows of a metric's
    values; in one of a param's or tag's, which holds every run tied on its values (a
    first group of 20,000), forcing the probes lost as much as it won (one search 36 ->
    162 ms), so there the planner chooses."""

    def __init__(self, bound: tuple[str, str, str] | None = None) -> None:
        self.aliases: dict[tuple[str, str], str] = {}
        self._bound = bound
        self.probed = False

    def alias(self, entity: str, key: str, at: Field, what: str = "filter") -> str:
        """The join's alias; ``at`` is the field that reads it, blamed past MAX_KEYS."""
        if self._bound is not None and self._bound[1:] == (entity, key):
            return self._bound[0]
        found = self.aliases.get((entity, key))
        if found is None:
            if len(self.aliases) == MAX_KEYS:
                raise too_many_keys(at, what)
            found = f"{entity[0]}{len(self.aliases)}"
            self.aliases[(entity, key)] = found
        return found

    def sql(self, b: SqlBuilder) -> str:
        parts = []
        lateral = self.probed and b.dialect == "postgres"
        for (entity, key), alias in self.aliases.items():
            table = {"metric": "latest_metrics", "parameter": "params"}.get(entity, "run_tags")
            row = "k" if lateral else alias
            live = f" AND {live_tag(b, f'{row}.')}" if table == "run_tags" else ""
            on = f"{row}.run_id = r.run_id AND {row}.key = {b.param(key)}{live}"
            if lateral:
                # Only the columns the query reads come out of the subquery: a probe of the
                # (key, run) index reads no table row, as a join's does.
                parts.append(
                    f" LEFT JOIN LATERAL (SELECT * FROM {table} k WHERE {on} OFFSET 0) "
                    f"{alias} ON TRUE"
                )
            else:
                parts.append(f" LEFT JOIN {table} {alias} ON {on}")
        return "".join(parts)


def attribute_column(field: Field) -> str | None:
    """The runs' column an attribute of a filter compares (None for the run name, which
    is its tag, and for other entities)."""
    if field.entity != "attribute":
        return None
    return _STRING_ATTRIBUTES.get(field.key) or _NUMERIC_ATTRIBUTES.get(field.key)


def join_key(field: Field) -> tuple[str, str] | None:
    """The (entity, key) of the joined row a field reads (``Joins``); None for a column of
    the runs or a dataset."""
    if field.entity in ("metric", "parameter", "tag"):
        return field.entity, field.key
    if field.entity == "attribute" and field.key in RUN_NAME_KEYS:
        return "tag", "mlflow.runName"
    return None


def split_on_key(expr: Expr | None, key: tuple[str, str]) -> tuple[list[Expr], Expr | None]:
    """The parts of ``expr``'s top-level AND that read only ``key``'s row, and the rest
    (None when nothing is left): the first can be tested on that row alone."""
    parts = expr.parts if isinstance(expr, And) else (expr,) if expr is not None else ()
    own: list[Expr] = []
    rest: list[Expr] = []
    for part in parts:
        (own if all(join_key(f) == key for f in fields_of(part)) else rest).append(part)
    return own, (rest[0] if len(rest) == 1 else And(tuple(rest)) if rest else None)


def on_row(
    b: SqlBuilder, parts: list[Expr], row: tuple[str, str, str], *, pinned: bool = False
) -> str:
    """``parts`` (``split_on_key``'s first) as conditions on one table row (alias, entity,
    key), each after an AND; parameters are pushed as they appear. ``pinned``: said so
    that SQLite tests them on each row but reads no index range from them."""
    joins = Joins(bound=row)
    suffix = " IS TRUE" if pinned else ""
    return "".join(
        f" AND ({compile_tree(p, lambda c: comparison_sql(c, joins, b))}){suffix}" for p in parts
    )


def field_column(field: Field, joins: Joins) -> tuple[str, str]:
    """(kind, column) for a comparison: kind is metric, text, number or dataset."""
    if field.entity == "metric":
        return "metric", joins.alias("metric", field.key, field)
    if field.entity in ("parameter", "tag"):
        return "text", joins.alias(field.entity, field.key, field)
    if field.entity == "dataset":
        column = _DATASET_COLUMNS.get(field.key)
        if column is None:
            raise FilterError(
                "invalid dataset key; valid keys are name, digest and context",
                field.position,
                field.key,
            )
        return "dataset", column
    if field.key in RUN_NAME_KEYS:
        return "text", joins.alias("tag", "mlflow.runName", field)
    if field.key in _STRING_ATTRIBUTES:
        return "attribute", _STRING_ATTRIBUTES[field.key]
    if field.key in _NUMERIC_ATTRIBUTES:
        return "number", _NUMERIC_ATTRIBUTES[field.key]
    valid = sorted({*_STRING_ATTRIBUTES, *_NUMERIC_ATTRIBUTES, "run_name"})
    raise FilterError(
        f"invalid attribute key '{field.key}'; valid keys are {', '.join(valid)}",
        field.position,
        field.key,
    )


def _check(c: Comparison, kind: str) -> None:
    if kind in ("metric", "number"):
        check_expr(c, _NUMERIC_OPS, numeric=True)
    elif kind in ("attribute", "dataset"):
        check_expr(c, _STRING_OPS, numeric=False)
    else:  # params and tags take strings, or numbers for a numeric comparison
        check_expr(c, _STRING_OPS | _NUMERIC_OPS, numeric=None)


def comparison_sql(c: Comparison, joins: Joins, b: SqlBuilder) -> str:
    kind, target = field_column(c.field, joins)
    _check(c, kind)
    if kind == "metric":
        column = (
            f"{target}.value"
            if c.field.aggregate == "latest"
            else (f"{target}.{c.field.aggregate}_value")
        )
        if c.op in ("IS NULL", "IS NOT NULL"):
            return f"{target}.run_id {c.op}"
        if c.field.aggregate != "latest":
            return compile_expr(b, column, c.op, c.value)
        # A NaN latest value is stored as 0 with is_nan set: it fails every comparison but !=.
        if c.op in ("!=", "NOT IN"):
            return f"({target}.is_nan = 1 OR {compile_expr(b, column, c.op, c.value)})"
        return f"({target}.is_nan = 0 AND {compile_expr(b, column, c.op, c.value)})"
    if kind == "text":
        # On PostgreSQL, the value's first characters where they decide the comparison:
        # the (key, run) index holds them, so probing a run's key reads no table row.
        text = "value_prefix" if b.dialect == "postgres" and prefix_decides(c) else "value"
        column = f"{target}.num_value" if _is_numeric(c) else f"{target}.{text}"
        if c.op in ("IS NULL", "IS NOT NULL"):
            # The joined row exists exactly when the value does: said of the join key,
            # PostgreSQL plans IS NULL as an anti-join (it estimated one row of 100,000).
            return f"{target}.run_id {c.op}"
        return compile_expr(b, column, c.op, c.value)
    if kind == "dataset":
        # Any of the run's datasets may match; a run without datasets is unknown.
        inner = compile_expr(b, target, c.op, c.value)
        return (
            f"(SELECT MAX(CASE WHEN {inner} THEN 1 ELSE 0 END) FROM run_datasets d "
            "WHERE d.run_id = r.run_id) = 1"
        )
    return compile_expr(b, target, c.op, c.value)


def _is_numeric(c: Comparison) -> bool:
    return not c.quoted and c.op not in ("LIKE", "ILIKE", "IS NULL", "IS NOT NULL")


def order_terms(key: OrderKey, joins: Joins, b: SqlBuilder) -> list[str]:
    field = key.field
    direction = "ASC" if key.ascending else "DESC"
    if field.entity == "metric":
        alias = joins.alias("metric", field.key, field, "order_by clause")
        if field.aggregate == "latest":
            # MLflow: values first, then NaN, then runs without the metric, either direction.
            flag = (
                f"CASE WHEN {alias}.run_id IS NULL THEN 2 WHEN {alias}.is_nan = 1 THEN 1 ELSE 0 END"
            )
            return [flag, f"{alias}.value {direction}"]
        column = f"{alias}.{field.aggregate}_value"
        return [missing_last(column), f"{column} {direction}"]
    if field.entity in ("parameter", "tag"):
        column = f"{joins.alias(field.entity, field.key, field, 'order_by clause')}.value"
        return [missing_last(column), f"{b.text_order(column)} {direction}"]
    if field.entity == "attribute" and field.key in ORDER_ATTRIBUTES:
        column = ORDER_ATTRIBUTES[field.key]
        text = column not in ("r.start_time", "r.end_time")
        ordered = b.text_order(column) if text else column
        # Only these can be NULL on a run; a flag on the others would only stop an index
        # from serving the order.
        nullable = [missing_last(column)] if column in NULLABLE_ORDER else []
        return [*nullable, f"{ordered} {direction}"]
    raise FilterError(
        f"invalid order_by key; order by metrics, params, tags or one of "
        f"{', '.join(sorted(ORDER_ATTRIBUTES))}",
        field.position,
        field.key,
        what="order_by clause",
    )
