"""Choosing a run search's plan from the sizes of its filter's driving sets.

Two plans answer a filtered page:

- **walk**: read the runs in the page's order (the order key's index, or the start-time
  index) and test the filter on each until the page is full. Cheap when many runs match:
  about ``page x scope / matches`` runs are read. Ruinous when few do: every run is.
- **drive**: read the runs the filter's driving sets name (``drivers.py``), test the whole
  filter on each, and sort the matches. Cheap when the sets are small, whatever the order.

The sets are counted from their indexes just before the search, each up to ``PROBE_CAP``
runs: an exact count where it matters, at a bounded cost (an index range of at most
``PROBE_CAP`` entries), and never stale, as stored statistics would be between refreshes.
"""

from __future__ import annotations

import msgspec

from trackledger.projections.search.ast import And, Expr
from trackledger.projections.search.drivers import (
    Driver,
    DriverLeaf,
    DriverNode,
    Scope,
    drivers_of,
    leaves_of,
    spelling_budget,
)
from trackledger.projections.search.sql import SqlBuilder

__all__ = [
    "DRIVE_MAX",
    "PROBE_CAP",
    "Chosen",
    "Sizes",
    "by_selectivity",
    "choose",
    "count_sql",
    "counted",
    "needs_count",
    "probe_sql",
    "set_sql",
    "to_count",
    "worth_driving",
]

#: How far a driving set is counted. Past it, a set is "large" and never read (a union
#: of sets is held to it too).
PROBE_CAP = 10_000

#: The largest driving set a search reads rather than walking the runs in order: testing
#: the filter on that many runs and sorting the matches costs about what a walk costs
#: when a filter matches one run in a few hundred.
DRIVE_MAX = 5_000

#: In an AND, a part's set joins the intersection if it is at most this many times the
#: smallest part's (an index range costs far less per run than testing the filter).
_INTERSECT_RATIO = 4


class Chosen(msgspec.Struct, frozen=True):
    """The driving set a search reads, and how many runs it holds at most; ``costly``
    when reading it reads far more than it holds (``DriverLeaf.scan``: the runs that
    lack a key, an infix LIKE)."""

    driver: Driver
    estimate: int
    costly: bool = False


#: The counted sizes of a search's driving sets, by leaf (equal leaves, equal sets), and
#: of the intersections counted whole (``count_sql``). A leaf not in it counts as larger
#: than the cap.
Sizes = dict[Driver, int]


def to_count(driver: Driver, sizes: Sizes, dialect: str, *, scans: bool) -> list[DriverLeaf]:
    """The leaves of ``driver`` not counted yet that a probe counts. A set of the runs
    that lack a key is bounded, never counted; other scans of the scope are not counted
    (``DriverLeaf.scope_scan``). Without ``scans``, neither are the filtered ranges of a
    key (an infix LIKE: its count reads the key's whole range when few runs match)."""
    return [
        leaf
        for leaf in dict.fromkeys(leaves_of(driver))
        if leaf not in sizes
        and (
            leaf.bounded
            or not (leaf.scope_scan(dialect) or (leaf.scan(dialect) and not scans))
        )
    ]


def probe_sql(b: SqlBuilder, leaves: list[DriverLeaf], scope: Scope) -> str:
    """One row: each leaf's set size, counted up to the cap."""
    return "SELECT " + ", ".join(_count(b, leaf, scope, i) for i, leaf in enumerate(leaves))


def counted(leaves: list[DriverLeaf], row: tuple[int, ...], sizes: Sizes) -> None:
    """Keep a probe's counts in ``sizes``."""
    for leaf, n in zip(leaves, row, strict=True):
        sizes[leaf] = int(n)


def _count(b: SqlBuilder, leaf: DriverLeaf, scope: Scope, i: int) -> str:
    """A leaf's set size, up to the cap; for the runs that lack a key, its bound
    (``DriverLeaf.bound``: two index counts, where a count would test every run of the
    scope), "larger than the cap" past it."""
    cap = int(PROBE_CAP)
    bound = leaf.bound(b)
    if bound is None:
        return f"(SELECT count(*) FROM ({leaf.sql(b, scope)} LIMIT {b.param(cap + 1)}) c{i})"
    return (
        f"(SELECT CASE WHEN n < 0 THEN 0 WHEN n <= {cap} THEN n ELSE {cap + 1} END "
        f"FROM (SELECT {bound} AS n) n{i})"
    )


def choose(driver: Driver, sizes: Sizes, dialect: str) -> Chosen | None:
    """The driving set worth reading, or None when the search should walk. Its estimate
    is an upper bound: an intersection may be far smaller than its smallest part (see
    ``needs_count``)."""
    return _prune(driver, sizes, dialect)


def by_selectivity(expr: Expr | None, sizes: Sizes, dialect: str) -> Expr | None:
    """``expr`` with the parts of its top-level AND in the order of their driving sets'
    sizes, smallest first (parts without a counted set last, in their order). The same
    filter; but SQLite joins the parts' keys in that order and tests each part as soon
    as its keys are joined (``runs._Query.where``), so a run that fails a selective part
    costs no probes of the others."""
    if not isinstance(expr, And):
        return expr
    spellings = spelling_budget(expr)  # each part's leaves, as the whole filter's are

    def size(part: Expr) -> int:
        driver = drivers_of(part, spellings=spellings)
        chosen = _prune(driver, sizes, dialect) if driver is not None else None
        return chosen.estimate if chosen is not None else PROBE_CAP + 1

    return And(tuple(sorted(expr.parts, key=size)))


def worth_driving(chosen: Chosen | None) -> bool:
    return chosen is not None and chosen.estimate <= DRIVE_MAX


def needs_count(chosen: Chosen | None) -> bool:
    """Whether the set is an intersection too large to read on its parts' sizes alone:
    counting it (up to the cap) tells whether the parts together are selective."""
    return (
        chosen is not None
        and chosen.estimate > DRIVE_MAX
        and isinstance(chosen.driver, DriverNode)
        and chosen.driver.op == "and"
    )


def count_sql(b: SqlBuilder, chosen: Chosen, scope: Scope) -> str:
    """The size of the chosen set, counted up to the cap."""
    inner = set_sql(b, chosen.driver, scope)
    return f"SELECT count(*) FROM ({inner} LIMIT {b.param(PROBE_CAP + 1)}) c"


def _prune(driver: Driver, sizes: Sizes, dialect: str) -> Chosen | None:
    if isinstance(driver, DriverLeaf):
        size = sizes.get(driver, PROBE_CAP + 1)
        return Chosen(driver, size, driver.scan(dialect)) if size <= PROBE_CAP else None
    parts = [p for p in (_prune(part, sizes, dialect) for part in driver.parts) if p is not None]
    if driver.op == "or":
        if len(parts) < len(driver.parts):
            return None
        total = sum(p.estimate for p in parts)
        if total > PROBE_CAP:
            return None
        # A part counted empty adds no run (and its set may cost a scan to read: the
        # runs that lack a key every run has).
        live = [p for p in parts if p.estimate > 0] or parts[:1]
        if len(live) == 1:
            return live[0]
        costly = any(p.costly for p in live)
        return Chosen(DriverNode("or", tuple(p.driver for p in live)), total, costly)
    if not parts:
        return None
    if empty := [p for p in parts if p.estimate == 0]:
        return empty[0]  # so is the intersection
    # A set that is costly to read joins only when no other part has a set.
    pool = [p for p in parts if not p.costly] or parts
    smallest = min(p.estimate for p in pool)
    kept = [p for p in pool if p.estimate <= _INTERSECT_RATIO * max(smallest, 1)]
    if len(kept) == 1:
        return kept[0]
    costly = any(p.costly for p in kept)
    return Chosen(DriverNode("and", tuple(p.driver for p in kept)), smallest, costly)


def set_sql(b: SqlBuilder, driver: Driver, scope: Scope) -> str:
    """A SELECT of the run ids in the driving set."""
    if isinstance(driver, DriverLeaf):
        return driver.sql(b, scope)
    compound = " INTERSECT " if driver.op == "and" else " UNION "
    return compound.join(
        f"SELECT run_id FROM ({set_sql(b, part, scope)}) d{i}"
        for i, part in enumerate(driver.parts)
    )
