"""The first group of an order by a param or tag: the runs that share the key's first value.

A window of an order by a key (``runs._segments``) holds the runs with the key's first
values, ties included. When few values are shared by many runs (an optimizer, a team), the
first value alone can hold a quarter of the runs, and the window reads and sorts all of
them. Those runs come first in the order, and among themselves (with no second order key)
they are in MLflow's tie order, start time newest first: a walk of the runs newest first
that keeps the ones holding that value finds the page after reading about
``page / (share of the value x share of the filter)`` runs.
"""

from __future__ import annotations

from trackledger.projections.search.ast import OrderKey
from trackledger.projections.search.drivers import PG_VALUE_PREFIX
from trackledger.projections.search.parser import parse_order_by
from trackledger.projections.search.sql import SqlBuilder

__all__ = ["group_key", "group_size_sql", "in_first_group"]

_TABLES = {"parameter": "params", "tag": "run_tags"}


def group_key(order_by: list[str]) -> OrderKey | None:
    """The order's key when it is a single param or tag (the only orders a group serves)."""
    if len(order_by) != 1:
        return None
    key = parse_order_by(order_by[0])
    return key if key.field.entity in _TABLES else None


def _first_value(b: SqlBuilder, key: OrderKey) -> str:
    """A scalar subquery: the key's first value in the order, over every run (on
    PostgreSQL its first characters, as the value index holds them: ``in_first_group``)."""
    table, live = _TABLES[key.field.entity], _live(key)
    direction = "ASC" if key.ascending else "DESC"
    value = _PG_HEAD.format(a="f") if b.dialect == "postgres" else "f.value"
    return (
        f"(SELECT {value} FROM {table} f WHERE f.key = {b.param(key.field.key)}"
        f"{live.format(a='f')} ORDER BY {value} {direction} LIMIT 1)"
    )


_PG_HEAD = f'left({{a}}.value, {PG_VALUE_PREFIX}) COLLATE "C"'


def _live(key: OrderKey) -> str:
    return " AND {a}.value IS NOT NULL" if key.field.entity == "tag" else ""


def in_first_group(b: SqlBuilder, key: OrderKey, alias: str) -> str:
    """Conditions on ``alias`` (the key's table, joined on the run): the run's value of the
    key is its first value. On PostgreSQL, whose value index holds the first
    ``PG_VALUE_PREFIX`` characters: the run's value starts with the first of those, when
    that is shorter than the prefix (so it is the whole value: the group is one value)."""
    head = f"{alias}.key = {b.param(key.field.key)}{_live(key).format(a=alias)}"
    if b.dialect != "postgres":
        return f"{head} AND {alias}.value = {_first_value(b, key)}"
    first = _first_value(b, key)
    short = _first_value(b, key)
    return (
        f"{head} AND {_PG_HEAD.format(a=alias)} = {first} AND length({short}) < {PG_VALUE_PREFIX}"
    )


def group_size_sql(b: SqlBuilder, key: OrderKey, cap: int) -> str:
    """How many runs (of every experiment) hold the key's first value, counted up to ``cap``."""
    table = _TABLES[key.field.entity]
    inner = f"SELECT 1 FROM {table} g WHERE {in_first_group(b, key, 'g')} LIMIT {b.param(cap)}"
    return f"SELECT count(*) FROM ({inner}) c"
