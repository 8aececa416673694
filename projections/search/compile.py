"""Pieces of SQL compilation shared by run and experiment searches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from trackledger.projections.search.ast import And, Comparison, Expr, Field, Not, Or
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.sql import SqlBuilder

__all__ = [
    "MAX_KEYS",
    "VIEW_STAGES",
    "check_expr",
    "comparisons_of",
    "compile_expr",
    "compile_tree",
    "fields_of",
    "missing_last",
    "too_many_keys",
]

#: The lifecycle stages each MLflow ViewType shows.
VIEW_STAGES = {
    "ACTIVE_ONLY": ("active",),
    "DELETED_ONLY": ("deleted",),
    "ALL": ("active", "deleted"),
}

#: How many different metrics, params and tags one search may read. Each is a join, and
#: SQLite joins at most 64 tables in one SELECT (the runs, a driving table, the keys).
MAX_KEYS = 50

_ENTITY_NAMES = {
    "metric": "metric",
    "parameter": "param",
    "tag": "tag",
    "attribute": "attribute",
    "dataset": "dataset",
}


def too_many_keys(field: Field, what: str = "filter") -> FilterError:
    return FilterError(
        f"a search may read at most {MAX_KEYS} different metrics, params and tags",
        field.position,
        field.key,
        what=what,
    )


def comparisons_of(expr: Expr | None) -> Iterator[Comparison]:
    """Every comparison of ``expr``, left to right."""
    match expr:
        case Comparison():
            yield expr
        case And() | Or():
            for part in expr.parts:
                yield from comparisons_of(part)
        case Not():
            yield from comparisons_of(expr.part)


def fields_of(expr: Expr | None) -> Iterator[Field]:
    """Every field ``expr`` compares, left to right."""
    return (c.field for c in comparisons_of(expr))


def compile_tree(expr: Expr, leaf: Callable[[Comparison], str]) -> str:
    match expr:
        case Comparison():
            return leaf(expr)
        case And():
            return " AND ".join(f"({compile_tree(p, leaf)})" for p in expr.parts)
        case Or():
            return " OR ".join(f"({compile_tree(p, leaf)})" for p in expr.parts)
        case Not():
            return f"NOT ({compile_tree(expr.part, leaf)})"
    raise TypeError(f"not a filter expression: {expr!r}")


def check_expr(c: Comparison, allowed: set[str], *, numeric: bool | None) -> None:
    """Check the comparator and the value's type for the field.

    ``numeric`` True: values must be unquoted numbers; False: quoted strings; None: either
    (params and tags), but LIKE and ILIKE always take a quoted pattern.
    """
    what = f"{_ENTITY_NAMES[c.field.entity]} '{c.field.key}'"
    if c.op not in allowed:
        raise FilterError(
            f"invalid comparator '{c.op}' for {what}; valid comparators are "
            f"{', '.join(sorted(allowed))}",
            c.position,
            c.op,
        )
    if c.op in ("IS NULL", "IS NOT NULL"):
        return
    is_list = isinstance(c.value, tuple)
    if is_list != (c.op in ("IN", "NOT IN")):
        raise FilterError(
            f"{c.op} takes {'a list' if not is_list else 'a single value'} for {what}",
            c.position,
            c.op,
        )
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    quoted = [isinstance(v, str) for v in values]
    if any(quoted) and not all(quoted):
        raise FilterError("a list mixes quoted strings and numbers", c.position, c.op)
    if numeric is True and c.quoted:
        raise FilterError(
            f"expected a numeric value for {what}, found the quoted string '{values[0]}'",
            c.position,
            str(values[0]),
        )
    if (numeric is False or c.op in ("LIKE", "ILIKE")) and not c.quoted:
        raise FilterError(
            f"expected a quoted string value for {what} (e.g. 'my-value'), found {values[0]}",
            c.position,
            str(values[0]),
        )


def compile_expr(b: SqlBuilder, column: str, op: str, value: object) -> str:
    if op in ("IS NULL", "IS NOT NULL"):
        return f"{column} {op}"
    if op == "LIKE":
        assert isinstance(value, str)
        return b.like(column, value)
    if op == "ILIKE":
        assert isinstance(value, str)
        return b.ilike(column, value)
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        return f"{column} {op} {b.params_list(value)}"
    return f"{column} {op} {b.value(value)}"


def missing_last(column: str) -> str:
    """A sort key that puts NULLs last whichever the direction (MLflow's rule)."""
    return f"CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"
