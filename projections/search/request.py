"""One run search, parsed: what every plan of it (``runs.py``) and the planner
(``projections/run_search.py``) read, passed whole instead of argument by argument."""

from __future__ import annotations

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, OrderKey

__all__ = ["RunSearch"]


class RunSearch(msgspec.Struct, frozen=True, kw_only=True):
    """A filter, an order and a page of a run search, checked (``runs.run_search``).

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
        match self.expr:
            case None:
                expr: Expr = group
            case And(parts):
                expr = And((*parts, group))
            case _:
                expr = And((self.expr, group))
        return msgspec.structs.replace(self, expr=expr, keys=self.keys[1:])
