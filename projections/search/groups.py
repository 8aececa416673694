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
    """A scalar subquery: the key's first value in the order, over every run."""
    table, live = _TABLES[key.field.entity], _live(key)
    direction = "ASC" if key.ascending else "DESC"
    if b.dialect == "postgres":
        # The order PostgreSQL's value index holds (see ``runs._segments``).
        head = f'left(f.value, {PG_VALUE_PREFIX}) COLLATE "C"'
        order = f'{head} {direction}, f.value COLLATE "C" {direction}'
    else:
        order = f"f.value {direction}"
    return (
        f"(SELECT f.value FROM {table} f WHERE f.key = {b.param(key.field.key)}"
        f"{live.format(a='f')} ORDER BY {order} LIMIT 1)"
    )


def _live(key: OrderKey) -> str:
    return " AND {a}.value IS NOT NULL" if key.field.entity == "tag" else ""


def in_first_group(b: SqlBuilder, key: OrderKey, alias: str) -> str:
    """Conditions on ``alias`` (the key's table, joined on the run): the run's value of the
    key is its first value."""
    return (
        f"{alias}.key = {b.param(key.field.key)}{_live(key).format(a=alias)} "
        f"AND {alias}.value = {_first_value(b, key)}"
    )


def group_size_sql(b: SqlBuilder, key: OrderKey, cap: int) -> str:
    """How many runs (of every experiment) hold the key's first value, counted up to ``cap``."""
    table = _TABLES[key.field.entity]
    condition = in_first_group(b, key, "g")
    if b.dialect == "postgres":
        # Said of the value's first characters too, so the value index reads the group.
        first = _first_value(b, key)
        condition += (
            f' AND left(g.value, {PG_VALUE_PREFIX}) COLLATE "C" = '
            f'left({first}, {PG_VALUE_PREFIX}) COLLATE "C"'
        )
    inner = f"SELECT 1 FROM {table} g WHERE {condition} LIMIT {b.param(cap)}"
    return f"SELECT count(*) FROM ({inner}) c"
