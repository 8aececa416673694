"""The first group of an order by a param, a tag or a user: the runs that share the key's
first value.

A window of an order by a key (``runs._segments``, or the runs' index by user) holds the
runs with the key's first values, ties included. When few values are shared by many runs
(an optimizer, a team, a user), the first value alone can hold a quarter of the runs or
more, and the window reads and sorts all of them. Those runs come first in the order, and
among themselves they are in the order of the other keys (MLflow's tie order, newest
first, when there are none): the page is then the same search among them
(``RunSearch.within_first_group``), whose own plans stop early in that order.

A user is grouped and a status is not: the runs without a user come last, which the
walk's order says with an expression no index holds, so a window by user sorted its whole
tie group; an order by status reads its index in order and stops at a full page (grouping
by status measured slower on PostgreSQL: more statements for the same runs).
"""

from __future__ import annotations

from trackledger.projections.search.ast import Comparison, Expr, OrderKey
from trackledger.projections.search.drivers import DriverLeaf, Scope
from trackledger.projections.search.run_fields import ORDER_ATTRIBUTES, on_row, split_on_key
from trackledger.projections.search.sql import SqlBuilder
from trackledger.projections.search.text_sets import PG_VALUE_PREFIX, indexed_value, live_tag

__all__ = ["first_value_sql", "group_key", "group_size_sql"]

_TABLES = {"parameter": "params", "tag": "run_tags"}
#: Run attributes grouped: few values that many runs share, an index of the scope's runs
#: in that order (``drivers.RUN_ORDER_COLUMNS``), and runs without a value.
_SHARED_COLUMNS = ("r.user_id",)


def group_key(keys: tuple[OrderKey, ...]) -> OrderKey | None:
    """The order's first key when it is a param, a tag or a user (the keys a group
    serves)."""
    if not keys:
        return None
    field = keys[0].field
    if field.entity in _TABLES or (
        field.entity == "attribute" and ORDER_ATTRIBUTES.get(field.key) in _SHARED_COLUMNS
    ):
        return keys[0]
    return None


def first_value_sql(b: SqlBuilder, key: OrderKey, expr: Expr | None, scope: Scope) -> str:
    """One row: the key's first value in the order that passes the filter ``expr``'s
    parts on that key alone (``split_on_key``), over every run (no row when no run has
    such a value): the runs with an earlier value fail the filter. On PostgreSQL, in the
    order its value index gives: the first ``PG_VALUE_PREFIX`` characters bytewise, then
    the whole value. For a user: the first user of the scope's runs that have one (those
    without come last in either direction), from the scope's index by user."""
    field = key.field
    if field.entity == "attribute":
        column = ORDER_ATTRIBUTES[field.key].replace("r.", "w.")
        direction = "ASC" if key.ascending else "DESC"
        return (
            f"SELECT {column} FROM runs w WHERE {scope(b, 'w')} AND {column} IS NOT NULL "
            f"ORDER BY {b.text_order(column)} {direction} LIMIT 1"
        )
    table = _TABLES[field.entity]
    live = f" AND {live_tag(b, 'f.')}" if field.entity == "tag" else ""
    direction = "ASC" if key.ascending else "DESC"
    own, _ = split_on_key(expr, (field.entity, field.key))

    def first(column: str, order: str, tie: str = "") -> str:
        return (
            f"SELECT {column} FROM {table} f WHERE f.key = {b.param(field.key)}{live}{tie}"
            f"{on_row(b, own, ('f', field.entity, field.key))} ORDER BY {order} LIMIT 1"
        )

    if b.dialect == "sqlite":
        return first("f.value", f"f.value {direction}")
    # The first characters, from the index alone; shorter than the index holds, they are
    # the value. Only when they are not are the values sharing them read and sorted (a
    # first value many runs share read all of their rows: 10-17 ms for 30,000).
    whole = first("f.value", f'f.value COLLATE "C" {direction}', " AND f.value_prefix = h.p")
    head = first("f.value_prefix AS p", f"{indexed_value(b, 'f.')} {direction}")
    return (
        f"SELECT CASE WHEN length(h.p) < {PG_VALUE_PREFIX} THEN h.p ELSE ({whole}) END "
        f"FROM ({head}) h"
    )


def group_size_sql(b: SqlBuilder, key: OrderKey, value: str, scope: Scope, cap: int) -> str:
    """How many runs have ``value`` for the key (in the scope, for the sets that read it:
    ``DriverLeaf.sql``), counted up to ``cap``."""
    same = Comparison(field=key.field, op="=", value=value, quoted=True, position=0)
    return f"SELECT count(*) FROM ({DriverLeaf(same).sql(b, scope)} LIMIT {b.param(cap)}) c"
