"""The parts of a run filter an index can answer alone: each names a set of run ids that
holds every run the part matches, read from one index range.

A selective filter is then answered from its matches (the driving set, intersected across
AND and united across OR) instead of by walking every run of the experiments in the page's
order. Which plan a search takes is decided from the sets' sizes, counted from their
indexes just before the search, up to a cap (see ``sql_reads.search_runs``).

A set may hold more runs than its comparison matches (a NaN latest metric is stored as 0,
a LIKE is read as its prefix's range): the search checks the whole filter on every run of
the set, so a set only has to hold every match.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Or
from trackledger.projections.search.sql import SqlBuilder, literal_prefix, next_prefix

__all__ = ["Driver", "DriverLeaf", "DriverNode", "drivers_of", "leaves_of"]

#: Characters of a param or tag value PostgreSQL's value index holds (btree entries are
#: limited to about 2.7 kB, values reach 8,000 characters; 256 characters are at most
#: 1 kB in UTF-8).
PG_VALUE_PREFIX = 256

#: How the runs of the searched experiments and lifecycle stages are named, for sets that
#: read the runs table itself (``r`` stands for the alias the caller gives).
Scope = Callable[[SqlBuilder, str], str]


class DriverLeaf(msgspec.Struct, frozen=True):
    """One comparison's set: ``sql(b, scope)`` selects its run ids (a column ``run_id``)."""

    comparison: Comparison

    def sql(self, b: SqlBuilder, scope: Scope) -> str:
        return _leaf_sql(b, self.comparison, scope)


class DriverNode(msgspec.Struct, frozen=True):
    """``and``: every part's set holds the matches, so any of them (or their
    intersection) does; ``or``: only the union of all parts' sets does."""

    op: str
    parts: tuple[Driver, ...]


Driver = DriverLeaf | DriverNode

_NUMERIC_OPS = {"=", "<", "<=", ">", ">=", "IN"}
#: Levels of AND and OR a driving set follows; deeper parts are only tested.
MAX_DEPTH = 4
_RUN_NAME_KEYS = {"run_name", "run name", "Run name", "Run Name"}


def drivers_of(expr: Expr | None, *, min_max_indexed: bool = True, depth: int = 0) -> Driver | None:
    """The sets that hold every match of ``expr``, or None where no index can answer it
    (a NOT, a !=, an IS NULL, an ILIKE, a field without an index, or parts nested more
    than ``MAX_DEPTH`` deep: each level is a nested SELECT, and SQLite's parser has a
    stack of its own)."""
    if depth > MAX_DEPTH:
        return None
    match expr:
        case Comparison():
            return DriverLeaf(expr) if _drivable(expr, min_max_indexed) else None
        case And() | Or():
            parts = [
                drivers_of(p, min_max_indexed=min_max_indexed, depth=depth + 1) for p in expr.parts
            ]
            found = [p for p in parts if p is not None]
            if isinstance(expr, Or) and len(found) < len(parts):
                return None
            if not found:
                return None
            if len(found) == 1:
                return found[0]
            return DriverNode("and" if isinstance(expr, And) else "or", tuple(found))
    return None


def leaves_of(driver: Driver) -> list[DriverLeaf]:
    if isinstance(driver, DriverLeaf):
        return [driver]
    return [leaf for part in driver.parts for leaf in leaves_of(part)]


def _drivable(c: Comparison, min_max_indexed: bool) -> bool:
    field = c.field
    if field.entity == "metric":
        if field.aggregate != "latest" and not min_max_indexed:
            return False
        return c.op in _NUMERIC_OPS
    if field.entity in ("parameter", "tag") or (
        field.entity == "attribute" and field.key in _RUN_NAME_KEYS
    ):
        if c.op in ("=", "IN") and c.quoted:
            return True
        if c.op == "LIKE":
            return isinstance(c.value, str) and literal_prefix(c.value) != ""
        # Only params index their values as numbers.
        return field.entity == "parameter" and not c.quoted and c.op in _NUMERIC_OPS
    if field.entity == "attribute":
        if field.key == "run_id":
            return c.op in ("=", "IN")
        return field.key in ("start_time", "created", "Created") and c.op in _NUMERIC_OPS
    return False


def _compare(b: SqlBuilder, column: str, op: str, value: object) -> str:
    if op == "IN":
        assert isinstance(value, tuple)
        return f"{column} IN {b.params_list(value)}"
    return f"{column} {op} {b.value(value)}"


def _text_set(b: SqlBuilder, table: str, key: str, op: str, value: object) -> str:
    """A quoted =, IN or prefix LIKE on a param's or tag's value, from its value index."""
    live = " AND value IS NOT NULL" if table == "run_tags" else ""
    head = f"SELECT run_id FROM {table} WHERE key = {b.param(key)}{live}"
    if b.dialect == "sqlite":
        if op == "LIKE":
            assert isinstance(value, str)
            return f"{head} AND {b.like('value', value)}"
        return f"{head} AND {_compare(b, 'value', op, value)}"
    # PostgreSQL indexes the values' first characters (see PG_VALUE_PREFIX).
    indexed = f'left(value, {PG_VALUE_PREFIX}) COLLATE "C"'
    n = PG_VALUE_PREFIX
    if op == "LIKE":
        assert isinstance(value, str)
        prefix = literal_prefix(value)[:n]
        above = next_prefix(prefix)
        low = f"{head} AND {indexed} >= {b.param(prefix)}"
        high = f" AND {indexed} < {b.param(above)}" if above else ""
        return f"{low}{high} AND {b.like('value', value)}"
    values = value if isinstance(value, tuple) else (value,)
    heads = tuple(str(v)[:n] for v in values)
    return f"{head} AND {indexed} IN {b.params_list(heads)} AND {_compare(b, 'value', op, value)}"


def _leaf_sql(b: SqlBuilder, c: Comparison, scope: Scope) -> str:
    field = c.field
    if field.entity == "metric":
        column = "value" if field.aggregate == "latest" else f"{field.aggregate}_value"
        return (
            f"SELECT run_id FROM latest_metrics WHERE key = {b.param(field.key)} "
            f"AND {_compare(b, column, c.op, c.value)}"
        )
    if field.entity == "parameter" and not c.quoted and c.op != "LIKE":
        return (
            f"SELECT run_id FROM params WHERE key = {b.param(field.key)} "
            f"AND {_compare(b, 'num_value', c.op, c.value)}"
        )
    if field.entity == "parameter":
        return _text_set(b, "params", field.key, c.op, c.value)
    if field.entity == "tag":
        return _text_set(b, "run_tags", field.key, c.op, c.value)
    if field.key in _RUN_NAME_KEYS:
        return _text_set(b, "run_tags", "mlflow.runName", c.op, c.value)
    if field.key == "run_id":
        return f"SELECT run_id FROM runs WHERE {_compare(b, 'run_id', c.op, c.value)}"
    # start_time: a range of the runs_experiment index within the searched experiments.
    return (
        f"SELECT s.run_id AS run_id FROM runs s WHERE {scope(b, 's')} "
        f"AND {_compare(b, 's.start_time', c.op, c.value)}"
    )
