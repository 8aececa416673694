"""Run search: check a parsed filter against the run fields, and compile it to SQL.

Semantics (MLflow's where MLflow answers, SQL's three-valued logic beyond it):

- a field a run lacks is NULL, so a comparison on it is unknown: it matches neither the
  comparison nor its NOT nor NOT IN; only IS NULL finds such runs;
- ``metrics.x`` is the latest value (max by step, timestamp, value); a NaN latest value fails
  every comparison but ``!=``; ``MIN()``/``MAX()`` read the finite extremes of the history;
- params and tags compare as strings against quoted values and as numbers against unquoted
  ones (a value that is not a number is then unknown);
- ``run_name`` reads the ``mlflow.runName`` tag, as MLflow does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Field, OrderKey
from trackledger.projections.search.compile import (
    MAX_KEYS,
    compile_expr,
    compile_tree,
    fields_of,
)
from trackledger.projections.search.drivers import Driver
from trackledger.projections.search.plan import set_sql
from trackledger.projections.search.request import RunSearch
from trackledger.projections.search.run_fields import (
    INDEXED_ORDER,
    ORDER_ATTRIBUTES,
    Joins,
    attribute_column,
    comparison_sql,
    field_column,
    join_key,
    on_row,
    order_terms,
    split_on_key,
)
from trackledger.projections.search.shares import Share
from trackledger.projections.search.sql import SqlBuilder
from trackledger.projections.search.text_sets import indexed_value, live_tag

__all__ = [
    "MAX_KEYS",
    "Edge",
    "compile_run_search",
    "fits_driven",
    "indexed_attribute",
    "key_order",
    "key_window",
    "run_scope",
    "sorted_bounds",
    "time_ordered",
    "walk_window",
]


def run_scope(
    b: SqlBuilder,
    experiment_ids: list[int],
    stages: tuple[str, ...],
    alias: str = "r",
    *,
    indexed: bool = True,
) -> str:
    """The runs a search looks at: its experiments' runs in its lifecycle stages.
    ``indexed=False`` keeps SQLite from reading them from their index (``+column``): the
    runs come from elsewhere and this only checks them."""
    plus = "" if indexed or b.dialect != "sqlite" else "+"
    return (
        f"{plus}{alias}.experiment_id IN {b.params_list(tuple(experiment_ids))} "
        f"AND {plus}{alias}.lifecycle_stage IN {b.params_list(stages)}"
    )


class _Query:
    """The parts every segment of a run search shares."""

    def __init__(self, b: SqlBuilder, search: RunSearch, *, on_first_key: bool = False) -> None:
        """``on_first_key``: the query walks the first order key's rows (alias ``o``; a
        metric, param or tag), which hold that key for the filter and the order too; the
        filter's parts on that key alone (``own``) are left to test on those rows."""
        self.b, self.expr, self.keys = b, search.expr, list(search.keys)
        self.experiment_ids, self.stages = list(search.experiment_ids), search.stages
        #: The filter's parts that read only the walked row (``on_first_key``).
        self.own: list[Expr] = []
        bound = None
        if on_first_key:
            first = self.keys[0].field
            self.own, self.expr = split_on_key(self.expr, (first.entity, first.key))
            bound = ("o", first.entity, first.key)
        self.joins = Joins(bound)
        #: The runs come from a driving set (``_driven``), not from the scope's index.
        self.driven = False
        for field in fields_of(self.expr):
            field_column(field, self.joins)

    def join_order_keys(self, keys: list[OrderKey]) -> None:
        """Join the metrics, params and tags of these order keys (before ``where``)."""
        for key in keys:
            if key.field.entity in _DRIVERS:
                self.joins.alias(key.field.entity, key.field.key, key.field, "order_by clause")

    def where(self, extra: Callable[[], str] | None = None, *, pinned: bool = False) -> str:
        """Joins, then the WHERE clause: ``extra()``, scope, the filter (parameters are
        pushed in the order their placeholders appear).

        ``pinned`` keeps SQLite from moving the filter's joins ahead of the driving table:
        ``(f) IS TRUE`` keeps the same rows as ``f``, but SQLite does not read it as
        proof that the joined row exists, so it leaves those LEFT JOINs in place.
        """
        b = self.b
        join_sql = self.joins.sql(b)
        conditions = [extra()] if extra is not None else []
        conditions.append(run_scope(b, self.experiment_ids, self.stages, indexed=not self.driven))
        if self.expr is not None and pinned and b.dialect == "sqlite":
            # One term per part of a top-level AND: SQLite tests each as soon as its
            # tables are joined, so a run failing the first part costs no further probes.
            parts = self.expr.parts if isinstance(self.expr, And) else (self.expr,)
            for part in parts:
                tree = compile_tree(part, lambda c: comparison_sql(c, self.joins, b))
                conditions.append(f"({tree}) IS TRUE")
        elif self.expr is not None:
            tree = compile_tree(self.expr, lambda c: comparison_sql(c, self.joins, b))
            conditions.append(f"({tree})")
        return f"{join_sql} WHERE {' AND '.join(conditions)}"

    def order(self, keys: list[OrderKey]) -> str:
        parts: list[str] = []
        for key in keys:
            parts.extend(order_terms(key, self.joins, self.b))
        if not any(
            ORDER_ATTRIBUTES.get(k.field.key) == "r.start_time"
            for k in self.keys
            if k.field.entity == "attribute"
        ):
            parts.append("r.start_time DESC")
        parts.append("r.run_id ASC")
        return ", ".join(parts)


_DRIVERS = {"metric": "latest_metrics", "parameter": "params", "tag": "run_tags"}


class Edge(msgspec.Struct, frozen=True):
    """A window's edge (``compile_run_search``): the order key's value at the window's
    last entry, read by ``window_edge_sql``; None when the order has fewer entries than
    the window is wide (the window is then every entry). ``after``: the edge of a window
    searched before, whose entries (ties included) this one leaves out; None for none."""

    value: Any
    after: Any = None
    #: PostgreSQL: probe each run of a param's or tag's window rather than leave the join
    #: order to the planner (``RunSearcher._probes``).
    probe: bool = False


#: An order's segments: (condition, ORDER BY or None), on alias ``{a}``.
_Segments = list[tuple[str, str | None]]


def key_order(b: SqlBuilder, first: OrderKey) -> tuple[str, str, str, _Segments]:
    """(table, live-row condition, sort key, segments) of an order whose first key is a
    metric, param or tag; each segment is (condition, ORDER BY) on alias ``{a}``."""
    field = first.field
    direction = "ASC" if first.ascending else "DESC"
    live = f" AND {live_tag(b, '{a}.')}" if field.entity == "tag" else ""
    value = "value" if field.aggregate == "latest" else f"{field.aggregate}_value"
    if field.entity == "metric":
        latest = field.aggregate == "latest"
        has_value = "{a}.is_nan = 0" if latest else f"{{a}}.{value} IS NOT NULL"
        # NaN is stored as 0: the (key, value) index finds the NaN ones among the zeros.
        no_value = "{a}.value = 0 AND {a}.is_nan = 1" if latest else f"{{a}}.{value} IS NULL"
        sort_key = f"{{a}}.{value}"
        ordered: _Segments = [
            (has_value, f"{sort_key} {direction}"),
            (no_value, None),
        ]
    elif b.dialect == "postgres":
        # The value index holds the first characters (PG_VALUE_PREFIX): walk it, and sort
        # only runs whose values tie on them (an incremental sort).
        sort_key = indexed_value(b, "{a}.")
        full = b.text_order("{a}.value")
        ordered = [("1 = 1", f"{sort_key} {direction}, {full} {direction}")]
    else:
        sort_key = "{a}.value"
        ordered = [("1 = 1", f"{sort_key} {direction}")]
    return _DRIVERS[field.entity], live, sort_key, ordered


def _segments(q: _Query, search: RunSearch, cap: int, edge: Edge | None = None) -> list[str]:
    """MLflow's order for a first key on a metric, param or tag, as ordered segments:
    runs with a value (ordered by it, so an index on (key, value) can serve the page),
    then runs whose latest value is NaN, then runs without the key. No segment gives more
    than ``cap`` runs, which lets each be planned to stop early. The segments with a value
    read the key from the row they walk, and test the filter's parts on that key alone
    there, before any probe of the run (``_Query``'s ``on_first_key``).

    With ``edge``, only the first segment, and in it only the runs whose value is among
    the key's first values in that order up to the edge (ties included): when that gives
    ``cap`` runs, they are exactly the first ``cap`` of the whole order."""
    b, first, rest = q.b, q.keys[0], q.keys[1:]
    field = first.field
    walked = _Query(b, search, on_first_key=True)
    # A window of a metric's values is as wide as asked (they seldom tie): its runs are
    # probed one by one (``Joins.probed``). One of a param's or tag's values holds every run
    # that ties on them (a first group of thousands), which PostgreSQL may do better to
    # hash: probed only when its edge says no such group fills it (``Edge.probe``).
    walked.joins.probed = edge is not None and (field.entity == "metric" or edge.probe)
    walked.join_order_keys(rest)
    table, live, sort_key, ordered = key_order(b, first)
    if edge is not None:
        ordered = ordered[:1]
    # SQLite reads CROSS JOIN as "this table first": scanning the key's values in order lets
    # the page stop early, which its planner does not weigh. PostgreSQL plans with LIMIT.
    join = "CROSS JOIN" if b.dialect == "sqlite" else "JOIN"
    arms = []
    for condition, by in ordered:

        def driver(condition: str = condition) -> str:
            sql = f"o.key = {b.param(field.key)}{live} AND {condition}".format(a="o")
            if edge is not None:
                sql += _within(b, sort_key.format(a="o"), first.ascending, edge)
                # Said apart from the pinned filter: a range of the index the walk reads.
                sql += sorted_bounds(b, search, sort_key.format(a="o"))
            # In a window, the edge bounds the walk: SQLite must not read the filter's
            # parts as a range of another index of the key, whose rows it would sort.
            pinned = edge is not None and b.dialect == "sqlite"
            return sql + on_row(b, walked.own, ("o", field.entity, field.key), pinned=pinned)

        where = walked.where(driver, pinned=by is not None)
        order = ", ".join(p for p in (by and by.format(a="o"), walked.order(rest)) if p)
        arms.append(
            f"SELECT r.run_id AS run_id FROM {table} o {join} runs r ON r.run_id = o.run_id"
            f"{where} ORDER BY {order} LIMIT {b.param(cap)}"
        )
    if edge is not None:
        return arms
    where = q.where(
        lambda: (
            f"NOT EXISTS (SELECT 1 FROM {table} o WHERE o.run_id = r.run_id "
            f"AND o.key = {b.param(field.key)}{live.format(a='o')})"
        )
    )
    arms.append(
        f"SELECT r.run_id AS run_id FROM runs r{where} ORDER BY {q.order(rest)} "
        f"LIMIT {b.param(cap)}"
    )
    return arms


def fits_driven(search: RunSearch) -> bool:
    """Whether a driven plan stays within ``MAX_KEYS`` joins: it joins every order key,
    where a walk reads its first from that key's own index (a search at the bound
    must not be refused for the plan it gets; a search within a key's first group,
    which compares that key in its filter, is held to the same)."""
    keys = {key for f in fields_of(search.expr) if (key := join_key(f)) is not None}
    keys |= {(k.field.entity, k.field.key) for k in search.keys if k.field.entity in _DRIVERS}
    return len(keys) <= MAX_KEYS


def walk_window(keys: tuple[OrderKey, ...]) -> bool:
    """Whether a search in this order can first look at a window of runs (``edge`` of
    ``compile_run_search``): an order whose first key is start time, a metric, a param or
    a tag, or a run attribute with an index of its own."""
    if time_ordered(keys) is not None:
        return True
    first = keys[0].field
    return first.entity in _DRIVERS or indexed_attribute(first) is not None


def key_window(keys: tuple[OrderKey, ...]) -> bool:
    """Whether the window is counted in values of a metric, param or tag (each a probe
    of its run and of the filter's keys), not in runs of an index of the runs."""
    return bool(keys) and keys[0].field.entity in _DRIVERS


def indexed_attribute(field: Field) -> str | None:
    """The runs column of an order key that has its own index (``RUN_ORDER_COLUMNS``)."""
    if field.entity != "attribute":
        return None
    column = ORDER_ATTRIBUTES.get(field.key)
    return column if column in INDEXED_ORDER else None


def time_ordered(keys: tuple[OrderKey, ...]) -> bool | None:
    """For an order whose first key is start time (or no order: newest first), whether it
    is ascending; otherwise None. The start-time index serves the first key; the others
    only order runs that tie on it, which a window holds whole."""
    if not keys:
        return False
    key = keys[0]
    if key.field.entity == "attribute" and ORDER_ATTRIBUTES.get(key.field.key) == "r.start_time":
        return key.ascending
    return None


def compile_run_search(
    b: SqlBuilder,
    search: RunSearch,
    *,
    edge: Edge | None = None,
    driver: Driver | None = None,
    scan: bool = False,
    part: Share | None = None,
    among: tuple[str, ...] | None = None,
) -> str:
    """SQL selecting the run ids of one page, in MLflow's order; parameters land in ``b``.

    With ``driver`` (a driving set of the filter, see ``plan.py``), only the runs of that
    set are tested and their matches sorted; with ``scan``, every run of the scope is
    (rather than walking a metric's, param's or tag's values in order: cheaper when few
    runs match, as the walk then reads every value too, one probe of its run at a time).

    With ``edge`` (a window's, ``window_edge_sql``; see ``walk_window``), only the first
    runs of the scope in the page's order are searched, up to the edge (ties included),
    or for a first key on a metric, param or tag the runs with its values up to the edge:
    if they hold a full page (plus one), that page is exactly the answer, because every
    later run sorts after them.

    With ``part`` (a scan), only that share of the scope's runs is searched; with
    ``among``, only the runs of those ids, untested.
    """
    if among is not None:
        unfiltered = msgspec.structs.replace(search, expr=None)
        return _among(_Query(b, unfiltered), among, search.limit, search.offset)
    q = _Query(b, search)
    keys, limit, offset = q.keys, search.limit, search.offset
    if driver is not None or scan:
        return _driven(q, driver, limit, offset, part)
    q.join_order_keys(keys[1:] if keys and keys[0].field.entity in _DRIVERS else keys)
    if keys and keys[0].field.entity in _DRIVERS:
        arms = _segments(q, search, limit + offset, edge)
        union = " UNION ALL ".join(f"SELECT run_id FROM ({arm}) s{i}" for i, arm in enumerate(arms))
        return f"SELECT run_id FROM ({union}) page LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    if edge is None:
        return (
            f"SELECT r.run_id FROM runs r{q.where()} ORDER BY {q.order(keys)} "
            f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
        )
    # A window of the runs' own index: each run of it probed (``Joins.probed``).
    q.joins.probed = True
    ascending = time_ordered(search.keys)
    if ascending is None:
        return _attribute_window(q, search, edge)

    def newest() -> str:
        # Every run at or past the edge in start-time order is in the window (ties
        # included): a prefix of the order, whose runs scan in index order.
        within = _within(b, "r.start_time", ascending, edge)
        return "1 = 1" + within + sorted_bounds(b, search, "r.start_time")

    return (
        f"SELECT r.run_id FROM runs r{q.where(newest, pinned=True)} "
        f"ORDER BY {q.order(keys)} LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )


def sorted_bounds(b: SqlBuilder, search: RunSearch, column: str) -> str:
    """The filter's bounds of the value that the search's first order key sorts
    (``_sorted_bounds``), as conditions on ``column`` (each after an AND). Only runs
    within them can be the page's: a window counted among them holds as many candidates
    as it is wide (``metrics.loss > 2`` ordered by loss ascending: the first values all
    fail it), and its search reads them as a range of the index it walks. A NaN latest
    value, stored as 0, is counted as 0 again: the window's search leaves it out (it
    only narrows the window)."""
    return "".join(f" AND {compile_expr(b, column, c.op, c.value)}" for c in _sorted_bounds(search))


def _sorted_bounds(search: RunSearch) -> list[Comparison]:
    """The range comparisons of the filter's top-level AND of the first order key's
    sorted value: of a metric's (the same aggregate), or of start or end time. A bound
    of another value of the key (the latest, ordered by the maximum) is not one: it
    would cost a read of each entry's row."""
    keys, expr = search.keys, search.expr
    parts = expr.parts if isinstance(expr, And) else (expr,) if expr is not None else ()
    ranges = [p for p in parts if isinstance(p, Comparison) and p.op in _RANGE_OPS]
    first = keys[0].field if keys else None
    if first is not None and first.entity == "metric":
        return [
            c
            for c in ranges
            if c.field.entity == "metric"
            and (c.field.key, c.field.aggregate) == (first.key, first.aggregate)
        ]
    if time_ordered(keys) is not None:
        column: str | None = "r.start_time"
    else:
        column = indexed_attribute(first) if first is not None else None
    return [c for c in ranges if column in _TIMES and attribute_column(c.field) == column]


#: The runs' times, whose order a window may read within the filter's bounds of them.
_TIMES = ("r.start_time", "r.end_time")
#: Comparisons that bound a range of sorted values.
_RANGE_OPS = frozenset({"=", "<", "<=", ">", ">="})


def _within(b: SqlBuilder, column: str, ascending: bool, edge: Edge) -> str:
    """Conditions (each after an AND) that keep ``column`` within the window: up to its
    edge, and past the edge of the window searched before it, if any."""
    sql = ""
    if edge.after is not None:
        sql += f" AND {column} {'>' if ascending else '<'} {b.param(edge.after)}"
    if edge.value is not None:
        sql += f" AND {column} {'<=' if ascending else '>='} {b.param(edge.value)}"
    return sql


def _attribute_window(q: _Query, search: RunSearch, edge: Edge) -> str:
    """A walk in the order of an indexed run attribute (``indexed_attribute``) that looks
    only at the runs whose value is up to the edge in that order (ties included), read
    from the attribute's index. Runs without a value sort last in either direction, so
    they are never in the window; every run outside it sorts after every run in it, and a
    window holding a page holds exactly that page."""
    b, first = q.b, q.keys[0]
    column = indexed_attribute(first.field)
    assert column is not None, "a window needs an order key with an index"
    direction = "ASC" if first.ascending else "DESC"
    ordered = b.text_order(column) if column != "r.end_time" else column

    def within() -> str:
        window = _within(b, ordered, first.ascending, edge)
        return f"{column} IS NOT NULL{window}" + sorted_bounds(b, search, column)

    where = q.where(within, pinned=True)
    # Every run of the window has a value: the order needs no missing-last flag.
    order = ", ".join(p for p in (f"{ordered} {direction}", q.order(q.keys[1:])) if p)
    return (
        f"SELECT r.run_id FROM runs r{where} ORDER BY {order} "
        f"LIMIT {b.param(search.limit)} OFFSET {b.param(search.offset)}"
    )


def _driven(
    q: _Query, driver: Driver | None, limit: int, offset: int, part: Share | None = None
) -> str:
    """The matches among a driving set's runs (or, without one, the scope's, or the part
    of it in ``part``), sorted."""
    b = q.b

    def scope(b: SqlBuilder, alias: str) -> str:
        return run_scope(b, q.experiment_ids, q.stages, alias)

    def members() -> str:
        assert driver is not None
        ids = set_sql(b, driver, scope)
        # PostgreSQL: the set as an array computed once, so the runs are fetched by their
        # key whatever the planner guesses of the set's size.
        return f"r.run_id IN ({ids})" if b.dialect == "sqlite" else f"r.run_id = ANY(ARRAY({ids}))"

    extra = members if driver else partial(part.sql, b) if part else None
    return _sorted(q, extra, limit, offset, driven=driver is not None)


def _among(q: _Query, ids: tuple[str, ...], limit: int, offset: int) -> str:
    """The runs of ``ids`` (the matches found by the parts of a split search) in the
    page's order: read by their ids, the filter not tested again."""
    return _sorted(q, lambda: f"r.run_id IN {q.b.params_list(ids)}", limit, offset, driven=True)


def _sorted(
    q: _Query, extra: Callable[[], str] | None, limit: int, offset: int, *, driven: bool
) -> str:
    """The runs of the scope that pass ``extra()`` and the filter, sorted: every one is
    read and tested (``driven``: read by id, not from the scope's index)."""
    b = q.b
    q.driven = driven
    q.join_order_keys(q.keys)
    return (
        f"SELECT r.run_id FROM runs r{q.where(extra, pinned=True)} "
        f"ORDER BY {q.order(q.keys)} "
        f"LIMIT {b.param(limit)} OFFSET {b.param(offset)}"
    )
