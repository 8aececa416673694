"""One run search, parsed and its order checked (``run_search``): what every plan of it
(``runs.py``) and the planner (``projections/run_search.py``) read, passed whole instead
of argument by argument."""

from __future__ import annotations

import msgspec

from trackledger.eventlog.errors import InvalidInput
from trackledger.projections.search.ast import And, Comparison, Expr, OrderKey
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.parser import parse_filter, parse_order_by
from trackledger.projections.search.run_fields import ORDER_ATTRIBUTES

__all__ = ["MAX_ORDER_BY", "RunSearch", "check_order_by", "run_search"]

#: order_by clauses one search may have: SQLite's planner hung on 32 and more.
MAX_ORDER_BY = 20


class RunSearch(msgspec.Struct, frozen=True, kw_only=True):
    """A filter, an order and a page of a run search, checked (``run_search``).

    ``limit`` is how many run ids a plan selects, ``offset`` how many it skips first."""

    expr: Expr | None
    keys: tuple[OrderKey, ...]
    experiment_ids: tuple[int, ...]
    stages: tuple[str, ...]
    limit: int
    offset: int

    def within_first_group(self, value: str) -> RunSearch:
        """The same search among the runs whose value of the first order key (a param or
        tag) is ``value``, ordered by the other keys: when ``value`` is that key's first
        value in the order, these runs come first in it, in this order among themselves."""
        first = self.keys[0].field
        group = Comparison(field=first, op="=", value=value, quoted=True, position=0)
        return msgspec.structs.replace(self, expr=self.also(group), keys=self.keys[1:])

    def also(self, *more: Expr) -> Expr:
        """The filter and the expressions of ``more`` (parts of its top-level AND, where
        plans look for bounds)."""
        match self.expr:
            case None:
                parts: tuple[Expr, ...] = more
            case And(own):
                parts = (*own, *more)
            case _:
                parts = (self.expr, *more)
        return parts[0] if len(parts) == 1 else And(parts)


def run_search(
    *,
    filter_text: str | None,
    order_by: list[str],
    experiment_ids: list[int],
    stages: tuple[str, ...],
    limit: int,
    offset: int,
) -> RunSearch:
    """A run search parsed, its order checked (a bad one raises ``FilterError`` or
    ``InvalidInput``; the filter's fields are checked when it is compiled)."""
    check_order_by(order_by)
    keys = [parse_order_by(clause) for clause in order_by]
    _reject_duplicate_keys(keys, order_by)
    return RunSearch(
        expr=parse_filter(filter_text),
        keys=tuple(keys),
        experiment_ids=tuple(experiment_ids),
        stages=stages,
        limit=limit,
        offset=offset,
    )


def check_order_by(order_by: list[str]) -> None:
    if len(order_by) > MAX_ORDER_BY:
        raise InvalidInput(
            f"A search takes at most {MAX_ORDER_BY} order_by clauses, got {len(order_by)}."
        )


def _reject_duplicate_keys(keys: list[OrderKey], clauses: list[str]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for key, clause in zip(keys, clauses, strict=True):
        ident = (key.field.entity, key.field.key, key.field.aggregate)
        if key.field.entity == "attribute":
            ident = ("attribute", ORDER_ATTRIBUTES.get(key.field.key, key.field.key), "")
        if ident in seen:
            raise FilterError(
                "the same key appears twice in order_by", 0, clause, what="order_by clause"
            )
        seen.add(ident)
