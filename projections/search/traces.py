"""MLflow's trace search language, compiled to SQL over the trace tables.

Fields (entity names as MLflow spells them, ``trace.`` and ``attribute.`` alike):

- attributes: ``trace_id`` (``request_id``), ``timestamp``/``timestamp_ms``,
  ``execution_time``/``execution_time_ms``, ``end_time``/``end_time_ms``, ``status``
  (``state``), ``client_request_id``, ``experiment_id``; ``name`` is the
  ``mlflow.traceName`` tag, ``run_id`` the run the trace came from or is linked to,
  ``prompt`` a prompt version it used (``'name/version'``), and ``text`` a text search
  (LIKE) through every span;
- ``tags.<key>``, ``metadata.<key>`` (``request_metadata``);
- ``span.name``, ``span.type``, ``span.status``, ``span.content``,
  ``span.attributes.<key>``: some span of the trace matches;
- ``feedback.<name>``, ``expectation.<name>``: some valid assessment of that name matches
  (its value as text, or as a number with < <= > >=).

As for runs, OR, NOT and parentheses work too, and a comparison on a tag or metadata key a
trace lacks is unknown: it matches neither the comparison nor its NOT.
"""

from __future__ import annotations

from trackledger.projections.search.ast import And, Comparison, Expr, Field, Not, Or, OrderKey
from trackledger.projections.search.compile import (
    comparisons_of,
    compile_expr,
    fields_of,
    missing_last,
)
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.parser import parse_filter, parse_order_by
from trackledger.projections.search.sql import SqlBuilder

__all__ = [
    "TRACE_ENTITIES",
    "compile_trace_count",
    "compile_trace_search",
    "indexed_only",
    "parse_trace_filter",
]

TRACE_ENTITIES = {
    "attribute": "attribute",
    "attributes": "attribute",
    "trace": "attribute",
    "tag": "tag",
    "tags": "tag",
    "metadata": "metadata",
    "request_metadata": "metadata",
    "span": "span",
    "feedback": "feedback",
    "expectation": "expectation",
}

#: The columns of ``traces`` filters and orders read (a window carries only these).
_SEARCHED = "trace_id, experiment_id, timestamp_ms, execution_time_ms, state, client_request_id"

#: Columns every listed trace has (its info or its spans set them): no NULLs to put last,
#: so an index can serve the order.
_NEVER_NULL = {"t.timestamp_ms", "t.trace_id", "t.state", "t.experiment_id"}

_NUMERIC = {
    "timestamp": "t.timestamp_ms",
    "timestamp_ms": "t.timestamp_ms",
    "execution_time": "t.execution_time_ms",
    "execution_time_ms": "t.execution_time_ms",
    "end_time": "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))",
    "end_time_ms": "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))",
    "experiment_id": "t.experiment_id",
}
_TEXT = {
    "trace_id": "t.trace_id",
    "request_id": "t.trace_id",
    "status": "t.state",
    "state": "t.state",
    "client_request_id": "t.client_request_id",
}
#: Attribute names that stand for a tag or a metadata entry (MLflow's mapping).
_AS_TAG = {"name": "mlflow.traceName"}
_SOURCE_RUN = "mlflow.sourceRun"
_SPAN_COLUMNS = {"name": "s.name", "type": "s.span_type", "status": "s.status"}

_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "IN", "NOT IN", "LIKE", "ILIKE"}
_KEY_OPS = {"=", "!=", "IN", "NOT IN", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
_ASSESSMENT_OPS = {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}


def _fail(c: Comparison, reason: str) -> FilterError:
    return FilterError(reason, c.position, c.op)


def _check(c: Comparison, what: str, allowed: set[str], numeric: bool | None) -> None:
    if c.op not in allowed:
        raise _fail(
            c,
            f"invalid comparator '{c.op}' for {what}; valid comparators are "
            f"{', '.join(sorted(allowed))}",
        )
    if c.op in ("IS NULL", "IS NOT NULL"):
        return
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if isinstance(c.value, tuple) != (c.op in ("IN", "NOT IN")):
        raise _fail(c, f"{c.op} takes {'a list' if c.op in ('IN', 'NOT IN') else 'one value'}")
    if numeric is True and any(isinstance(v, str) for v in values):
        raise _fail(c, f"expected a number for {what}, found the string '{values[0]}'")
    if (numeric is False or c.op in ("LIKE", "ILIKE")) and not all(
        isinstance(v, str) for v in values
    ):
        raise _fail(c, f"expected a quoted string for {what} (e.g. 'value'), found {values[0]}")


def parse_trace_filter(text: str | None) -> Expr | None:
    """The filter's tree, every comparison checked (an invalid one raises FilterError)."""
    expr = parse_filter(text, TRACE_ENTITIES)
    for c in comparisons_of(expr):
        _compile_leaf(SqlBuilder("sqlite"), c, _Mode())
    return expr


def indexed_only(expr: Expr | None) -> bool:
    """Whether the filter reads only the trace row itself (its index serves the order)."""
    return all(f.entity == "attribute" and f.key in (_NUMERIC | _TEXT) for f in fields_of(expr))


class _Mode:
    """How comparisons compile: ``positive`` (not under NOT) and ``probe`` (the traces
    come from a small window, so each is looked up by key instead of joined)."""

    def __init__(self, positive: bool = True, probe: bool = False) -> None:
        self.positive = positive
        self.probe = probe

    def flipped(self) -> _Mode:
        return _Mode(not self.positive, self.probe)


def _key_value(b: SqlBuilder, table: str, key: str, c: Comparison, mode: _Mode) -> str:
    """A tag or metadata comparison. Where it cannot be negated it is a semi-join (the
    key/value index can drive it, or each trace's key is probed in a window); under NOT it
    compares the value itself, which a trace without the key leaves unknown."""
    if mode.positive and c.op not in ("IS NULL", "IS NOT NULL"):
        key_mark = b.param(key)
        test = compile_expr(b, "g.value", c.op, c.value)
        if mode.probe:
            return (
                f"EXISTS (SELECT 1 FROM {table} g WHERE g.trace_id = t.trace_id "
                f"AND g.key = {key_mark} AND {test})"
            )
        return (
            f"t.trace_id IN (SELECT g.trace_id FROM {table} g WHERE g.key = {key_mark} AND {test})"
        )
    key_mark = b.param(key)
    column = f"(SELECT g.value FROM {table} g WHERE g.trace_id = t.trace_id AND g.key = {key_mark})"
    return compile_expr(b, column, c.op, c.value)


def _run(b: SqlBuilder, c: Comparison) -> str:
    """``run_id``: the run the trace ran under (its metadata) or any run it is linked to."""
    _check(c, "attribute 'run_id'", {"=", "IN"}, numeric=False)
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    key = b.param(_SOURCE_RUN)
    by_metadata = b.params_list(values)
    by_link = b.params_list(values)
    return (
        f"(t.trace_id IN (SELECT g.trace_id FROM trace_metadata g WHERE g.key = {key} "
        f"AND g.value IN {by_metadata}) OR t.trace_id IN (SELECT l.trace_id FROM "
        f"trace_run_links l WHERE l.run_id IN {by_link}))"
    )


def _span(b: SqlBuilder, c: Comparison, key: str) -> str:
    what = f"span '{key}'"
    if key == "content" or key.startswith("attributes."):
        _check(c, what, {"LIKE", "ILIKE"}, numeric=False)
        assert isinstance(c.value, str)
        pattern = c.value
        if key.startswith("attributes."):
            name = key[len("attributes.") :]
            if not name:
                raise _fail(c, "a span attribute needs a name after 'attributes.'")
            pattern = f'%"{name}":{pattern}%'
        test = b.like("s.content", pattern) if c.op == "LIKE" else b.ilike("s.content", pattern)
    elif key in _SPAN_COLUMNS:
        _check(c, what, _STRING_OPS, numeric=False)
        test = compile_expr(b, _SPAN_COLUMNS[key], c.op, c.value)
    else:
        raise _fail(
            c,
            f"invalid span field '{key}'; valid are name, type, status, content and "
            "attributes.<key>",
        )
    return f"EXISTS (SELECT 1 FROM trace_spans s WHERE s.trace_id = t.trace_id AND {test})"


def _assessment(b: SqlBuilder, c: Comparison, kind: str, name: str) -> str:
    _check(c, f"{kind} '{name}'", _ASSESSMENT_OPS, numeric=None)
    # An assessment another live one overrides is not valid (MLflow searches valid ones).
    valid = (
        "a.deleted_pos = 0 AND a.record IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
        "trace_assessments o WHERE o.trace_id = a.trace_id AND o.overrides = a.assessment_id "
        "AND o.deleted_pos = 0 AND o.record IS NOT NULL)"
    )
    scope = f"a.trace_id = t.trace_id AND a.kind = {b.param(kind)} AND a.name = {b.param(name)}"
    if c.op in ("IS NULL", "IS NOT NULL"):
        found = f"EXISTS (SELECT 1 FROM trace_assessments a WHERE {scope} AND {valid})"
        return f"NOT {found}" if c.op == "IS NULL" else found
    if c.op in ("<", "<=", ">", ">="):
        if isinstance(c.value, str):
            raise _fail(c, f"expected a number for {kind} '{name}' with {c.op}")
        test = compile_expr(b, "a.num_value", c.op, c.value)
    else:
        value = c.value if not isinstance(c.value, (int, float)) else _number_text(c.value)
        test = compile_expr(b, "a.value", c.op, value)
    return f"EXISTS (SELECT 1 FROM trace_assessments a WHERE {scope} AND {valid} AND {test})"


def _number_text(value: int | float) -> str:
    return str(value)


def _attribute(b: SqlBuilder, c: Comparison, key: str, mode: _Mode) -> str:
    if key in _NUMERIC:
        _check(c, f"attribute '{key}'", _NUMBER_OPS, numeric=True)
        return compile_expr(b, _NUMERIC[key], c.op, c.value)
    if key in _TEXT:
        _check(c, f"attribute '{key}'", _STRING_OPS, numeric=False)
        return compile_expr(b, _TEXT[key], c.op, c.value)
    if key in _AS_TAG:
        _check(c, f"attribute '{key}'", _KEY_OPS, numeric=False)
        return _key_value(b, "trace_tags", _AS_TAG[key], c, mode)
    if key == "run_id":
        return _run(b, c)
    if key == "text":
        return _span(b, c, "content")
    if key == "prompt":
        _check(c, "attribute 'prompt'", {"=", "IN"}, numeric=False)
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        return (
            "t.trace_id IN (SELECT p.trace_id FROM trace_prompt_links p "
            f"WHERE p.prompt IN {b.params_list(values)})"
        )
    valid = sorted({*_NUMERIC, *_TEXT, *_AS_TAG, "run_id", "text", "prompt"})
    raise FilterError(
        f"invalid attribute '{key}'; valid attributes are {', '.join(valid)}",
        c.field.position,
        key,
    )


def _compile_leaf(b: SqlBuilder, c: Comparison, mode: _Mode) -> str:
    entity, key = c.field.entity, c.field.key
    if c.field.aggregate != "latest":
        raise _fail(c, "MIN(), MAX() and LATEST() apply to run metrics only")
    if entity == "attribute":
        return _attribute(b, c, key.lower(), mode)
    if entity == "tag":
        _check(c, f"tag '{key}'", _KEY_OPS, numeric=False)
        return _key_value(b, "trace_tags", key, c, mode)
    if entity == "metadata":
        _check(c, f"metadata '{key}'", _KEY_OPS, numeric=False)
        if key == _SOURCE_RUN and c.op in ("=", "IN"):
            return _run(b, c)
        return _key_value(b, "trace_metadata", key, c, mode)
    if entity == "span":
        return _span(b, c, key)
    return _assessment(b, c, entity, key)


def _compile(b: SqlBuilder, expr: Expr, mode: _Mode) -> str:
    match expr:
        case Comparison():
            return _compile_leaf(b, expr, mode)
        case And():
            return " AND ".join(f"({_compile(b, p, mode)})" for p in expr.parts)
        case Or():
            return " OR ".join(f"({_compile(b, p, mode)})" for p in expr.parts)
        case Not():
            return f"NOT ({_compile(b, expr.part, mode.flipped())})"
    raise TypeError(f"not a filter expression: {expr!r}")


def _order_column(b: SqlBuilder, field: Field) -> tuple[str, bool]:
    """The SQL a field orders by, and whether it is text."""
    key = field.key
    if field.entity == "attribute":
        lowered = key.lower()
        if lowered in _NUMERIC:
            return _NUMERIC[lowered], False
        if lowered in _TEXT:
            return _TEXT[lowered], True
        if lowered in _AS_TAG:
            return _scalar(b, "trace_tags", _AS_TAG[lowered]), True
        if lowered == "run_id":
            return _scalar(b, "trace_metadata", _SOURCE_RUN), True
    elif field.entity in ("tag", "metadata"):
        table = "trace_tags" if field.entity == "tag" else "trace_metadata"
        return _scalar(b, table, key), True
    raise FilterError(
        f"invalid order_by field '{key}'; order traces by timestamp, execution_time, "
        "end_time, status, request_id, experiment_id, name, run_id, tags.<key> or "
        "metadata.<key>",
        field.position,
        key,
    )


def _scalar(b: SqlBuilder, table: str, key: str) -> str:
    return (
        f"(SELECT g.value FROM {table} g WHERE g.trace_id = t.trace_id AND g.key = {b.param(key)})"
    )


def _order_by(b: SqlBuilder, order_by: list[str]) -> str:
    keys: list[OrderKey] = [parse_order_by(clause, TRACE_ENTITIES) for clause in order_by]
    parts: list[str] = []
    seen: set[str] = set()
    for key in keys:
        # A tag's column binds its key: each use of it binds it again, in text order.
        column, text = _order_column(b, key.field)
        identity = column if "?" not in column else f"{key.field.entity}:{key.field.key}"
        if identity in seen:
            raise FilterError(
                f"order_by names '{key.field.key}' twice", key.field.position, key.field.key
            )
        seen.add(identity)
        again, _ = _order_column(b, key.field)
        direction = "ASC" if key.ascending else "DESC"
        ordered = b.text_order(again) if text else again
        if column in _NEVER_NULL:
            parts.append(f"{ordered} {direction}")
        else:
            parts.append(f"{missing_last(column)}, {ordered} {direction}")
    # MLflow's tie-breakers: newest first, then by id.
    if "t.timestamp_ms" not in seen:
        parts.append("t.timestamp_ms DESC")
    if "t.trace_id" not in seen:
        parts.append(f"{b.text_order('t.trace_id')} ASC")
    return ", ".join(parts)


def time_ordered(order_by: list[str]) -> bool:
    """Whether the search pages newest first (the order of the experiment index)."""
    return not order_by


def compile_trace_search(
    b: SqlBuilder,
    *,
    filter_text: str | None,
    order_by: list[str],
    experiment_ids: list[int],
    limit: int,
    offset: int,
    window: int | None = None,
) -> str:
    """SQL for the page's trace ids. With ``window``, only the newest ``window`` traces of
    the experiments are searched (the caller checks whether that held the page)."""
    expr = parse_filter(filter_text, TRACE_ENTITIES)
    ids = b.params_list(tuple(experiment_ids))
    if window is not None:
        source = (
            f"(SELECT {_SEARCHED} FROM traces WHERE experiment_id IN {ids} AND stage = 'active' "
            f"ORDER BY timestamp_ms DESC, trace_id LIMIT {b.param(window)}) t"
        )
        where = "1 = 1"
    else:
        source = "traces t"
        where = f"t.experiment_id IN {ids} AND t.stage = 'active'"
    if expr is not None:
        where += f" AND ({_compile(b, expr, _Mode(probe=window is not None))})"
    order = _order_by(b, order_by)
    return (
        f"SELECT t.trace_id FROM {source} WHERE {where} ORDER BY {order} "
        f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )


def compile_trace_count(
    b: SqlBuilder, *, filters: list[str | None], experiment_ids: list[int]
) -> str:
    """SQL counting the experiments' active traces that match every filter."""
    where = f"t.experiment_id IN {b.params_list(tuple(experiment_ids))} AND t.stage = 'active'"
    for text in filters:
        expr = parse_filter(text, TRACE_ENTITIES)
        if expr is not None:
            where += f" AND ({_compile(b, expr, _Mode())})"
    return f"SELECT COUNT(*) FROM traces t WHERE {where}"
