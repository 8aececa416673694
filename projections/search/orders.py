"""What a run search's order says to its planner (``projections/run_search.py``): which
order keys every match ties on, whether a window or a walk in it stops early, and
whether its walk sorts every match before the first page."""

from __future__ import annotations

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Field, OrderKey
from trackledger.projections.search.compile import comparisons_of
from trackledger.projections.search.request import RunSearch
from trackledger.projections.search.run_fields import (
    NULLABLE_ORDER,
    ORDER_ATTRIBUTES,
    attribute_column,
    join_key,
)
from trackledger.projections.search.runs import key_window, time_ordered, walk_window
from trackledger.projections.search.window_edges import several_ranges

__all__ = [
    "compared",
    "sorts_every_match",
    "stops_early",
    "windowed_walk",
    "without_tied_keys",
]

#: Run columns an order may name whose value an ``=`` of the filter fixes (the run name is
#: the runName tag's in a filter, the runs' own column in an order).
_FIXED_ATTRIBUTES = {"r.user_id", "r.status", "r.artifact_uri", "r.start_time", "r.end_time"}
#: Run attributes a window in whose order reads every run sharing its last value.
_SHARED_ATTRIBUTES = {"user_id", "status", "lifecycle_stage", "artifact_uri"}


def sorts_every_match(keys: tuple[OrderKey, ...]) -> bool:
    """Whether a walk in this order sorts every match before its first page: its first
    key is a run attribute that runs may lack (a user, an end time), which come last."""
    first = keys[0].field if keys else None
    return (
        first is not None
        and first.entity == "attribute"
        and ORDER_ATTRIBUTES.get(first.key) in NULLABLE_ORDER
    )


def compared(key: OrderKey, expr: Expr | None) -> bool:
    """Whether ``expr`` compares the order key ``key``, a run attribute."""
    column = ORDER_ATTRIBUTES.get(key.field.key) if key.field.entity == "attribute" else None
    compared = (attribute_column(c.field) for c in comparisons_of(expr))
    return column is not None and column in compared


def windowed_walk(search: RunSearch) -> bool:
    """Whether a search that every run of its scope matches is walked through windows
    anyway, because a plain walk would sort every run of the scope where a window's edge
    reads the first runs of an index: in start time's or an indexed attribute's order over
    several experiments or stages (``several_ranges``), and in an indexed attribute's order
    in any scope (its runs that lack the value come last, which the walk's order says with
    an expression no index holds: 250 ms by user for 1,000,000 runs)."""
    keys = search.keys
    if not walk_window(keys) or key_window(keys):
        return False
    return several_ranges(search) or time_ordered(keys) is None


def without_tied_keys(search: RunSearch) -> RunSearch:
    """The search without the order keys that every match ties on, by its filter's
    top-level AND: a key every match lacks (``IS NULL``), or whose value it fixes (``=``
    of a string for a param, tag, user or status, of a number for a metric or a time).
    They do not order the page, and the runs' values need not be walked in their order
    (``user_id = 'alice'`` ordered by ``user_id DESC``: every one of alice's runs)."""
    parts = search.expr.parts if isinstance(search.expr, And) else (search.expr,)
    fixed = [p for p in parts if isinstance(p, Comparison) and p.op in ("IS NULL", "=")]
    keys = tuple(k for k in search.keys if not any(_ties(k.field, c) for c in fixed))
    return search if len(keys) == len(search.keys) else msgspec.structs.replace(search, keys=keys)


def _ties(key: Field, c: Comparison) -> bool:
    """Whether every run that passes ``c`` has the same value of the order key ``key``."""
    if key.entity == "attribute":
        column = ORDER_ATTRIBUTES.get(key.key)
        return c.op == "=" and column in _FIXED_ATTRIBUTES and attribute_column(c.field) == column
    if join_key(c.field) != join_key(key):
        return False
    if c.op == "IS NULL":
        return True
    if key.entity == "metric":
        return c.field.entity == "metric" and c.field.aggregate == key.aggregate
    return c.quoted  # a number compared leaves the strings that spell it apart


def stops_early(keys: tuple[OrderKey, ...]) -> bool:
    """Whether a window in this order reads about as many runs as it is wide: an order
    by start time (or no key), a metric, a param or tag (whose own first group is then
    searched), or a run attribute whose values are mostly distinct. Users and statuses
    are few and shared: their window holds every run of its last value."""
    if not keys or keys[0].field.entity in ("metric", "parameter", "tag"):
        return True
    return keys[0].field.entity == "attribute" and keys[0].field.key not in _SHARED_ATTRIBUTES
