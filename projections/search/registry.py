"""Registered model and model version search: MLflow's filter grammar compiled to SQL.

Registered models filter on ``name`` (=, !=, LIKE, ILIKE, IN, NOT IN) and ``tags.<key>`` (=,
!=, LIKE, ILIKE); versions on ``name``, ``run_id`` (both with IN), ``source_path`` and
``version_number`` (a number, compared as one), and their own tags. The run search's
extensions apply here too: OR, NOT, parentheses, IN and IS NULL on tags.

Prompts (models tagged ``mlflow.prompt.is_prompt = 'true'``) are left out unless the filter
asks for them, as MLflow does: a filter ``tags.`mlflow.prompt.is_prompt` = 'true'`` (or
``!= 'false'``) searches everything with the tag; any other comparison on that tag is
dropped, and prompts are left out.
"""

from __future__ import annotations

from collections.abc import Callable

from trackledger.projections.search.ast import And, Comparison, Expr, Field, OrderKey
from trackledger.projections.search.compile import (
    check_expr,
    compile_expr,
    compile_tree,
    fields_of,
)
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.parser import parse_filter, parse_order_by
from trackledger.projections.search.sql import SqlBuilder

__all__ = ["compile_model_search", "compile_version_search"]

PROMPT_TAG = "mlflow.prompt.is_prompt"
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_TAG_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"}


def _querying_prompts(expr: Expr | None) -> bool:
    """MLflow's rule: the first AND-level comparison on the prompt tag decides."""
    parts = expr.parts if isinstance(expr, And) else (expr,) if expr is not None else ()
    for part in parts:
        if isinstance(part, Comparison) and part.field.entity == "tag":
            if part.field.key != PROMPT_TAG or not isinstance(part.value, str):
                continue
            value = part.value.lower()
            return (part.op == "=" and value == "true") or (part.op == "!=" and value == "false")
    return False


def _tag_joins(
    expr: Expr | None, b: SqlBuilder, table: str, on: str, skip: str | None
) -> tuple[dict[str, str], list[str]]:
    aliases: dict[str, str] = {}
    joins = []
    for field in fields_of(expr):
        if field.entity == "tag" and field.key not in aliases and field.key != skip:
            alias = aliases[field.key] = f"t{len(aliases)}"
            joins.append(
                f" LEFT JOIN {table} {alias} ON {on.format(a=alias)} "
                f"AND {alias}.key = {b.param(field.key)} AND {alias}.value IS NOT NULL"
            )
    return aliases, joins


def _bad_attribute(field: Field, valid: list[str]) -> FilterError:
    return FilterError(
        f"invalid attribute key '{field.key}'; valid keys are {', '.join(valid)} and tags.<key>",
        field.position,
        field.key,
    )


def _compile(
    expr: Expr | None,
    b: SqlBuilder,
    tags: dict[str, str],
    attribute: Callable[[Comparison], str],
    prompts: bool,
) -> str:
    def leaf(c: Comparison) -> str:
        if c.field.entity == "tag":
            if c.field.key == PROMPT_TAG and not prompts:
                return "1 = 1"  # MLflow drops it (and leaves prompts out)
            check_expr(c, _TAG_OPS, numeric=False)
            return compile_expr(b, f"{tags[c.field.key]}.value", c.op, c.value)
        return attribute(c)

    return compile_tree(expr, leaf) if expr is not None else "1 = 1"


def _order(order_by: list[str], columns: dict[str, str], valid: str) -> list[tuple[str, OrderKey]]:
    out: list[tuple[str, OrderKey]] = []
    seen: set[str] = set()
    for clause in order_by:
        key = parse_order_by(clause)
        column = columns.get(key.field.key) if key.field.entity == "attribute" else None
        if column is None:
            raise FilterError(
                f"invalid order_by key '{key.field.key}'; valid keys are {valid}",
                key.field.position,
                key.field.key,
                what="order_by clause",
            )
        if column in seen:
            raise FilterError(
                f"`order_by` contains duplicate fields: {order_by}",
                key.field.position,
                key.field.key,
                what="order_by clause",
            )
        seen.add(column)
        out.append((column, key))
    return out


def _direction(ascending: bool) -> str:
    return "ASC" if ascending else "DESC"


_MODEL_ORDER = {
    "name": "r.name",
    "timestamp": "r.last_updated_time",
    "last_updated_timestamp": "r.last_updated_time",
}


def compile_model_search(
    b: SqlBuilder, *, filter_text: str | None, order_by: list[str], limit: int, offset: int
) -> str:
    """SQL selecting the ids of the matching registered models, one page."""
    expr = parse_filter(filter_text)
    prompts = _querying_prompts(expr)
    skip = None if prompts else PROMPT_TAG
    on = "{a}.registered_model_id = r.registered_model_id"
    tags, joins = _tag_joins(expr, b, "registered_model_tags", on, skip)

    def attribute(c: Comparison) -> str:
        if c.field.key != "name":
            raise _bad_attribute(c.field, ["name"])
        check_expr(c, _STRING_OPS, numeric=False)
        return compile_expr(b, "r.name", c.op, c.value)

    conditions = [
        "r.deleted_time IS NULL",
        "r.creation_time IS NOT NULL",
        f"({_compile(expr, b, tags, attribute, prompts)})",
    ]
    if not prompts:
        conditions.append(
            "NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.registered_model_id = "
            f"r.registered_model_id AND p.key = {b.param(PROMPT_TAG)} AND p.value = 'true')"
        )
    keys = _order(order_by, _MODEL_ORDER, "name, timestamp and last_updated_timestamp")
    parts = [
        f"{b.text_order(column) if column == 'r.name' else column} {_direction(key.ascending)}"
        for column, key in keys
    ]
    if not any(column == "r.name" for column, _ in keys):
        parts.append(f"{b.text_order('r.name')} ASC")
    return (
        f"SELECT r.registered_model_id FROM registered_models r{''.join(joins)} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {', '.join(parts)} "
        f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )


_VERSION_STRINGS = {"name": "r.name", "run_id": "mv.run_id", "source_path": "mv.source"}
_VERSION_ORDER = {
    "name": "r.name",
    "version_number": "mv.version",
    "creation_timestamp": "mv.creation_time",
    "last_updated_timestamp": "mv.last_updated_time",
}
_VERSION_KEYS = ["name", "run_id", "source_path", "version_number"]


def _picks_names(expr: Expr | None) -> bool:
    """Whether the filter, at its top level, keeps only some names (=, IN, a LIKE prefix)."""
    parts = expr.parts if isinstance(expr, And) else (expr,) if expr is not None else ()
    for part in parts:
        if not isinstance(part, Comparison) or part.field.entity != "attribute":
            continue
        if part.field.key != "name":
            continue
        if part.op in ("=", "IN"):
            return True
        if part.op == "LIKE" and isinstance(part.value, str) and part.value[:1] not in ("%", "_"):
            return True
    return False


def _version_number(c: Comparison, b: SqlBuilder) -> str:
    check_expr(c, _NUMERIC_OPS, numeric=None)
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    numbers = []
    for value in values:
        if isinstance(value, float):
            raise FilterError(
                f"invalid value for numeric attribute 'version_number': {value!r}",
                c.position,
                str(value),
            )
        try:
            numbers.append(int(value) if value is not None else 0)
        except ValueError:
            raise FilterError(
                f"invalid value for numeric attribute 'version_number': {value!r}",
                c.position,
                str(value),
            ) from None
    compared = tuple(numbers) if isinstance(c.value, tuple) else numbers[0]
    return compile_expr(b, "mv.version", c.op, compared)


def compile_version_search(
    b: SqlBuilder, *, filter_text: str | None, order_by: list[str], limit: int, offset: int
) -> str:
    """SQL selecting (registered model id, version) of the matching versions, one page."""
    expr = parse_filter(filter_text)
    prompts = _querying_prompts(expr)
    skip = None if prompts else PROMPT_TAG
    on = "{a}.registered_model_id = mv.registered_model_id AND {a}.version = mv.version"
    tags, joins = _tag_joins(expr, b, "model_version_tags", on, skip)

    def attribute(c: Comparison) -> str:
        if c.field.key == "version_number":
            return _version_number(c, b)
        column = _VERSION_STRINGS.get(c.field.key)
        if column is None:
            raise _bad_attribute(c.field, _VERSION_KEYS)
        if isinstance(c.value, tuple) and c.field.key == "source_path":
            raise FilterError(
                "only name and run_id support comparison with a list of quoted string values",
                c.position,
                c.op,
            )
        check_expr(c, _STRING_OPS, numeric=False)
        return compile_expr(b, column, c.op, c.value)

    conditions = [
        "r.deleted_time IS NULL",
        f"mv.current_stage != {b.param('Deleted_Internal')}",
        "mv.creation_time IS NOT NULL",
        f"({_compile(expr, b, tags, attribute, prompts)})",
    ]
    if not prompts:
        conditions.append(
            "NOT EXISTS (SELECT 1 FROM model_version_tags p WHERE p.registered_model_id = "
            f"mv.registered_model_id AND p.key = {b.param(PROMPT_TAG)} AND p.value = 'true')"
        )
    keys = _order(
        order_by or ["last_updated_timestamp DESC"],
        _VERSION_ORDER,
        "name, version_number, creation_timestamp and last_updated_timestamp",
    )
    parts = [
        f"{b.text_order(column) if column == 'r.name' else column} {_direction(key.ascending)}"
        for column, key in keys
    ]
    if not any(column == "r.name" for column, _ in keys):
        parts.append(f"{b.text_order('r.name')} ASC")
    if not any(column == "mv.version" for column, _ in keys):
        parts.append("mv.version DESC")
    # SQLite keeps the written order of a CROSS JOIN. The models come first when the page is
    # in name order (their name index gives it) or the filter picks models by name (few
    # models, then their versions by key); otherwise the versions come first, in the order of
    # the index that gives the page's order, which stops after the page instead of sorting
    # every match.
    if (keys and keys[0][0] == "r.name") or _picks_names(expr):
        tables = "registered_models r CROSS JOIN model_versions mv"
    else:
        tables = "model_versions mv CROSS JOIN registered_models r"
    conditions.insert(0, "r.registered_model_id = mv.registered_model_id")
    return (
        f"SELECT mv.registered_model_id, mv.version FROM {tables}{''.join(joins)} "
        f"WHERE {' AND '.join(conditions)} ORDER BY {', '.join(parts)} "
        f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )
