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
A count that reads a set costly to read again (an intersection, a pattern tested value
by value) keeps its run ids when it is small (``KEEP_IDS``), and a search driven by it
reads those runs by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

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
    "KEEP_IDS",
    "LARGE_CAP",
    "PROBE_CAP",
    "SCAN_RATIO",
    "Chosen",
    "Sizes",
    "by_selectivity",
    "choose",
    "count_sql",
    "counted",
    "kept_count",
    "large_cap",
    "needs_count",
    "past_cap",
    "probe_sql",
    "read_cost",
    "scope_size_sql",
    "set_sql",
    "to_count",
    "with_ids",
    "without_implied",
    "worth_driving",
]

#: How far a driving set is counted. Past it, a set is "large" and never read (a union
#: of sets is held to it too).
PROBE_CAP = 10_000

#: How far a driving set is counted once a search's windows missed, no set is within
#: ``PROBE_CAP`` and the alternative is a scan of the scope: in a scope of more than
#: ``SCAN_RATIO`` times ``PROBE_CAP`` runs, a set of up to a ``SCAN_RATIO``-th of the
#: scope (and at most this) costs less to count and read than testing every run of the
#: scope (``projections/run_search.py``). Counting a leaf that far reads as many index
#: entries; reading a run of the set cost about 10 us on SQLite at 1,000,000 runs.
LARGE_CAP = 40_000

#: How many runs of the scope a scan tests for the cost of counting and reading one run
#: of a driving set (its index entries, the run's row by id, the sort of the matches):
#: at 100,000 runs, sets of up to 25,000 read instead of a scan made the query mix
#: slower; at 1,000,000, sets of 100,000 were slower than the scan.
SCAN_RATIO = 20

#: The largest driving set a search reads rather than walking the runs in order: testing
#: the filter on that many runs and sorting the matches costs about what a walk costs
#: when a filter matches one run in a few hundred.
DRIVE_MAX = 5_000

#: The largest set whose run ids its count keeps (``Sizes.ids``), where reading it again
#: costs as much as counting it did: an intersection of sets, or a pattern tested value
#: by value (``_keeps_ids``: an infix LIKE reads all of a key's values to find a few
#: runs). A search driven by it reads those runs by id (``with_ids``). Any set counted
#: within ``PROBE_CAP`` may be read, once the windows missed.
KEEP_IDS = PROBE_CAP

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


class Sizes(dict[Driver, int]):
    """The counted sizes of a search's driving sets, by leaf (equal leaves, equal sets),
    and of the intersections counted whole (``count_sql``). A leaf not in it counts as
    larger than the cap. ``ids``: the run ids of the sets whose count kept them
    (``KEEP_IDS``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[Driver, tuple[str, ...]] = {}

    def keep(self, driver: Driver, size: int, ids: list[str] | None) -> None:
        """Keep a set's counted size, and its run ids if its count kept them."""
        self[driver] = size
        if ids is not None:
            self.ids[driver] = tuple(ids)


def to_count(
    driver: Driver, sizes: Sizes, dialect: str, *, scans: bool, cap: int | None = None
) -> list[DriverLeaf]:
    """The leaves of ``driver`` that a probe counts up to ``cap`` (``PROBE_CAP`` by
    default): those not counted yet, and for a larger cap those counted past
    ``PROBE_CAP``. A set of the runs that lack a key is bounded, never counted; other
    scans of the scope are not counted (``DriverLeaf.scope_scan``). Without ``scans``,
    neither are the filtered ranges of a key (an infix LIKE: its count reads the key's
    whole range when few runs match)."""
    recount = cap is not None and cap > PROBE_CAP
    return [
        leaf
        for leaf in dict.fromkeys(leaves_of(driver))
        if (leaf not in sizes or (recount and _past_probe(sizes, leaf)))
        and (leaf.bounded or not (leaf.scope_scan(dialect) or (leaf.scan(dialect) and not scans)))
    ]


def probe_sql(b: SqlBuilder, leaves: list[DriverLeaf], scope: Scope, cap: int | None = None) -> str:
    """One row: each leaf's set size, counted up to ``cap`` (``PROBE_CAP`` by default;
    past it, ``cap + 1``); for a set costly to read again, as the JSON array of its size
    and its run ids, if it holds at most ``KEEP_IDS``, or null (``counted`` reads it)."""
    cap = int(PROBE_CAP) if cap is None else cap
    return "SELECT " + ", ".join(_count(b, leaf, scope, i, cap) for i, leaf in enumerate(leaves))


def _keeps_ids(leaf: DriverLeaf, dialect: str) -> bool:
    """Whether a count of the leaf's set keeps its ids (``KEEP_IDS``): a pattern tested
    value by value (``DriverLeaf.scan``), which names few runs more often than not (an
    infix or suffix LIKE or ILIKE). Not the others a scan counts (``!=``, ``NOT IN``, a
    NOT): they name most of a key's runs, and gathering ids the count then drops costs
    PostgreSQL about a microsecond a run (10 ms for a count of ``PROBE_CAP``)."""
    c = leaf.comparison
    return leaf.scan(dialect) and not leaf.negated and c.op in ("LIKE", "ILIKE")


def scope_size_sql(b: SqlBuilder, scope: Scope) -> str:
    """One row: how many runs the scope holds, counted (an index range: 80-150 ms for
    1,000,000 runs on SQLite) as far as ``large_cap`` reads it."""
    where = scope(b, "r")  # its parameters first
    cap = b.param(SCAN_RATIO * LARGE_CAP)
    return f"SELECT count(*) FROM (SELECT 1 FROM runs r WHERE {where} LIMIT {cap}) s"


def past_cap(driver: Driver, sizes: Sizes) -> bool:
    """Whether some leaf of ``driver`` was counted past ``PROBE_CAP`` (a larger cap
    may count it)."""
    return any(_past_probe(sizes, leaf) for leaf in leaves_of(driver))


def _past_probe(sizes: Sizes, leaf: DriverLeaf) -> bool:
    """Whether the leaf was counted only as far as ``PROBE_CAP``, and found larger (a
    count up to a larger cap stores its own size, or that cap and one)."""
    return sizes.get(leaf) == PROBE_CAP + 1


def large_cap(scope_runs: int) -> int | None:
    """The largest set worth reading instead of a scan of ``scope_runs`` runs; None when
    it is no larger than ``PROBE_CAP`` (the sets were counted that far)."""
    cap = min(LARGE_CAP, scope_runs // SCAN_RATIO)
    return cap if cap > PROBE_CAP else None


def counted(leaves: list[DriverLeaf], row: Sequence[Any], sizes: Sizes, dialect: str) -> None:
    """Keep a probe's counts (``probe_sql``) in ``sizes``, and the ids it kept."""
    for leaf, value in zip(leaves, row, strict=True):
        if _keeps_ids(leaf, dialect):
            size, ids = orjson.loads(value)
            sizes.keep(leaf, int(size), ids)
        else:
            sizes[leaf] = int(value)


def _count(b: SqlBuilder, leaf: DriverLeaf, scope: Scope, i: int, cap: int) -> str:
    """A leaf's set size, up to the cap (with its ids, for ``_keeps_ids``: ``[size,
    ids]``); for the runs that lack a key, its bound (``DriverLeaf.bound``: two index
    counts, where a count would test every run of the scope), "larger than the cap"
    past it."""
    bound = leaf.bound(b)
    if bound is not None:
        return (
            f"(SELECT CASE WHEN n < 0 THEN 0 WHEN n <= {cap} THEN n ELSE {cap + 1} END "
            f"FROM (SELECT {bound} AS n) n{i})"
        )
    size = "count(*)"
    if _keeps_ids(leaf, b.dialect):
        size = f"'[' || count(*) || ',' || {_ids(b)} || ']'"
    inner = leaf.sql(b, scope)  # its parameters before the limit's
    return f"(SELECT {size} FROM ({inner} LIMIT {b.param(cap + 1)}) c{i})"


def _ids(b: SqlBuilder) -> str:
    """A counted set's run ids, a JSON array if it holds at most ``KEEP_IDS``, else
    ``null``."""
    return f"COALESCE(CASE WHEN count(*) <= {KEEP_IDS} THEN {b.json_list('run_id')} END, 'null')"


def choose(driver: Driver, sizes: Sizes, dialect: str, cap: int | None = None) -> Chosen | None:
    """The driving set worth reading (of sets up to ``cap``, ``PROBE_CAP`` by default),
    or None when the search should walk. Its estimate is an upper bound: an
    intersection may be far smaller than its smallest part (see ``needs_count``)."""
    return _prune(driver, sizes, dialect, int(PROBE_CAP) if cap is None else cap)


def read_cost(chosen: Chosen, sizes: Sizes) -> int:
    """How many index entries reading the chosen set reads: every part of an
    intersection is read whole."""
    return sum(sizes[leaf] for leaf in dict.fromkeys(leaves_of(chosen.driver)))


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
        chosen = _prune(driver, sizes, dialect, int(PROBE_CAP)) if driver is not None else None
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
    """The size of the chosen set, counted up to the cap, and its ids (``KEEP_IDS``):
    ``kept_count`` reads the row."""
    inner = set_sql(b, chosen.driver, scope)
    limit = b.param(PROBE_CAP + 1)
    return f"SELECT count(*), {_ids(b)} FROM ({inner} LIMIT {limit}) c"


def kept_count(chosen: Chosen, row: Sequence[Any], sizes: Sizes) -> None:
    """Keep a count of the chosen set (``count_sql``) in ``sizes``, and its ids."""
    sizes.keep(chosen.driver, int(row[0]), orjson.loads(row[1]))


def with_ids(chosen: Chosen, sizes: Sizes) -> Chosen:
    """The chosen set, each of its sets (the whole, an intersection, a leaf) whose count
    kept its run ids (``Sizes.ids``) read by those ids instead of its index ranges. The
    sets are the same (as of the count: a search reads its page's runs after their ids,
    as it does after any plan, and a write may come between)."""
    return msgspec.structs.replace(chosen, driver=_with_ids(chosen.driver, sizes))


def _with_ids(driver: Driver, sizes: Sizes) -> Driver:
    kept = sizes.ids.get(driver)
    if kept is not None:
        return msgspec.structs.replace(driver, ids=kept)
    if isinstance(driver, DriverLeaf):
        return driver
    parts = tuple(_with_ids(part, sizes) for part in driver.parts)
    return msgspec.structs.replace(driver, parts=parts)


def _prune(driver: Driver, sizes: Sizes, dialect: str, cap: int) -> Chosen | None:
    if isinstance(driver, DriverLeaf):
        if cap > PROBE_CAP and _past_probe(sizes, driver):
            return None  # counted only up to PROBE_CAP (``to_count``): its size is unknown
        size = sizes.get(driver, cap + 1)
        return Chosen(driver, size, driver.scan(dialect)) if size <= cap else None
    parts = [
        p for p in (_prune(part, sizes, dialect, cap) for part in driver.parts) if p is not None
    ]
    if driver.op == "or":
        if len(parts) < len(driver.parts):
            return None
        total = sum(p.estimate for p in parts)
        if total > cap:
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


def without_implied(expr: Expr | None, chosen: Chosen, dialect: str) -> Expr | None:
    """``expr`` less the parts of its top-level AND that every run of the chosen set
    passes: the comparisons whose own set it is, or a part of its intersection, and holds
    exactly their matches (``DriverLeaf.exact``). A driven search tests the rest on each
    run of the set; it need not probe these keys again (``params.layers = '5'``: the set
    is the matches)."""
    driver = chosen.driver
    parts = driver.parts if isinstance(driver, DriverNode) and driver.op == "and" else (driver,)
    implied = {
        c for p in parts if isinstance(p, DriverLeaf) and p.exact(dialect) for c in p.comparisons
    }
    if not implied:
        return expr
    if not isinstance(expr, And):
        return None if expr in implied else expr
    kept = tuple(p for p in expr.parts if p not in implied)
    if len(kept) == len(expr.parts):
        return expr
    return None if not kept else kept[0] if len(kept) == 1 else And(kept)


def set_sql(b: SqlBuilder, driver: Driver, scope: Scope) -> str:
    """A SELECT of the run ids in the driving set."""
    if isinstance(driver, DriverLeaf):
        return driver.sql(b, scope)
    if driver.ids is not None:
        return b.id_rows(driver.ids)
    compound = " INTERSECT " if driver.op == "and" else " UNION "
    return compound.join(
        f"SELECT run_id FROM ({set_sql(b, part, scope)}) d{i}"
        for i, part in enumerate(driver.parts)
    )
