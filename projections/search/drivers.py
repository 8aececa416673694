"""The parts of a run filter an index can answer alone: each names a set of run ids that
holds every run the part matches, read from one index range.

A selective filter is then answered from its matches (the driving set, intersected across
AND and united across OR) instead of by walking every run of the experiments in the page's
order. Which plan a search takes is decided from the sets' sizes, counted from their
indexes just before the search, up to a cap (see ``projections/run_search.py``).

A set may hold more runs than its comparison matches (a NaN latest metric is stored as 0;
a negated comparison of a metric reads every run that has it, since a comparison on a
missing key is unknown): the search checks the whole filter on every run of the set, so a
set only has to hold every match. Where no index range reads a param's or tag's
comparison, its set is the key's rows filtered by it (a scan, ``DriverLeaf.scan``), and
the runs that lack a key, or fail an attribute no index serves, are the scope's runs
tested one by one (``DriverLeaf.scope_scan``); datasets name no set.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Not, Or
from trackledger.projections.search.compile import comparisons_of, compile_expr
from trackledger.projections.search.sql import (
    MAX_SPELLINGS,
    SqlBuilder,
    case_spellings,
    literal_prefix,
)
from trackledger.projections.search.text_sets import (
    RUN_NAME_KEYS,
    is_text,
    live_tag,
    prefix_decides,
    prefix_pattern,
    prefix_range,
    text_set,
)

__all__ = [
    "RUN_ORDER_COLUMNS",
    "Driver",
    "DriverLeaf",
    "DriverNode",
    "drivers_of",
    "leaves_of",
    "spelling_budget",
]

#: Run attributes an order may name that have an index of their own on the runs (column,
#: index name; ``schema.py`` builds them, ``runs.py`` walks them).
RUN_ORDER_COLUMNS = (
    ("name", "name"),
    ("user_id", "user"),
    ("status", "status"),
    ("end_time", "end"),
    ("run_id", "id"),
)

#: How the runs of the searched experiments and lifecycle stages are named, for sets that
#: read the runs table itself (``r`` stands for the alias the caller gives).
Scope = Callable[[SqlBuilder, str], str]


class DriverLeaf(msgspec.Struct, frozen=True):
    """One comparison's set (of its NOT, if ``negated``): ``sql(b, scope)`` selects its
    run ids (a column ``run_id``). With ``within``, the runs that pass a second range
    comparison of the same number too (an AND's lower and upper bound of a metric or of a
    number: one index range between both, ``merge_ranges``)."""

    comparison: Comparison
    negated: bool = False
    #: How many index ranges an ILIKE prefix reads at most (``spelling_budget``).
    spellings: int = MAX_SPELLINGS
    within: Comparison | None = None
    #: The set's run ids, as its count read them (``plan.with_ids``): read by id.
    ids: tuple[str, ...] | None = None

    def sql(self, b: SqlBuilder, scope: Scope) -> str:
        if self.ids is not None:
            return b.id_rows(self.ids)
        if self.negated:
            return _negated_sql(b, self.comparison, scope, self.spellings)
        sql = _leaf_sql(b, self.comparison, scope, self.spellings)
        if self.within is not None:
            w = self.within
            sql += f" AND {compile_expr(b, _number_column(w), w.op, w.value)}"
        return sql

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The comparisons whose matches the set holds (all of them, for a run in it)."""
        return (self.comparison,) if self.within is None else (self.comparison, self.within)

    @property
    def bounded(self) -> bool:
        """Whether ``bound`` gives a bound: a set of the runs that lack a key."""
        c = self.comparison
        return c.op == ("IS NOT NULL" if self.negated else "IS NULL") and _keyed(c)

    def bound(self, b: SqlBuilder) -> str | None:
        """For a set of the runs that lack a key (IS NULL, NOT IS NOT NULL), a cheap
        upper bound on its size: every run of the store less the runs that have the key
        (two index counts; a count of the set itself tests every run of the scope).
        None for other sets."""
        if not self.bounded:
            return None
        table, key, live = _key_table(b, self.comparison)
        return (
            f"(SELECT count(*) FROM runs) - "
            f"(SELECT count(*) FROM {table} k WHERE k.key = {b.param(key)}{live})"
        )

    def exact(self, dialect: str) -> bool:
        """Whether the set holds exactly the runs that match the comparison (of every
        experiment: a driven search tests the scope apart), so a search driven by it
        need not test the comparison again: a param's or tag's presence, its numbers, its
        quoted ``=``, ``IN``, ``LIKE`` or ``ILIKE`` where the index decides it (SQLite's
        holds the value, and the set tests the comparison itself; PostgreSQL's holds its
        first characters, which decide ``=`` and ``IN`` of shorter strings and ``LIKE
        'prefix%'``); a metric's range that a NaN latest value (stored as 0) cannot fall
        in; run ids."""
        c = self.comparison
        if self.negated:
            return False
        if self.within is not None:
            # A range of a number is exact but for a metric's latest value that 0 passes
            # (a NaN is stored as 0): either bound failing 0 leaves the NaNs out.
            return DriverLeaf(c).exact(dialect) or DriverLeaf(self.within).exact(dialect)
        if is_text(c):
            if c.op == "IS NOT NULL" or (not c.quoted and c.op in _NUMERIC_OPS):
                return True
            if not c.quoted or c.op not in ("=", "IN", "LIKE", "ILIKE"):
                return False
            return dialect == "sqlite" or (c.op != "ILIKE" and prefix_decides(c))
        if c.field.entity == "metric" and c.op in _NUMERIC_OPS:
            return c.field.aggregate != "latest" or not _zero_passes(c.op, c.value)
        return c.field.entity == "attribute" and c.field.key == "run_id" and c.op in ("=", "IN")

    def scope_scan(self, dialect: str) -> bool:
        """Whether the set is the scope's runs tested one by one (the runs that lack a
        key, a comparison of an attribute no index serves): counting it tests every run
        of the scope, about what testing the whole filter on them costs."""
        return self.bounded or (not _keyed(self.comparison) and self.scan(dialect))

    def scan(self, dialect: str) -> bool:
        """Whether counting the set may read far more than it holds: the scope's runs
        tested one by one (IS NULL, whose set is the runs without the key; a comparison
        of an unindexed attribute), or a key's range filtered value by value (an infix
        LIKE, ILIKE, != or NOT IN; a number compared with a tag). Exact sets, but a
        count that reads the whole scope or range when few runs match."""
        if self.negated:
            return _negated_scan(self.comparison, dialect)
        c = self.comparison
        if c.op == "IS NULL" or _attribute_scan(c):
            return True
        if not is_text(c) or c.op == "IS NOT NULL":
            return False
        if not c.quoted and c.op not in ("LIKE", "ILIKE"):
            # Numbers are read from a (key, num_value) index.
            return c.op in ("!=", "NOT IN")
        if c.op == "LIKE":
            return not (isinstance(c.value, str) and literal_prefix(c.value))
        if c.op == "ILIKE":
            return not (isinstance(c.value, str) and case_spellings(c.value, self.spellings))
        return c.op not in ("=", "IN")


class DriverNode(msgspec.Struct, frozen=True):
    """``and``: every part's set holds the matches, so any of them (or their
    intersection) does; ``or``: only the union of all parts' sets does. ``ids``: the
    set's run ids, as its count read them (``plan.with_ids``)."""

    op: str
    parts: tuple[Driver, ...]
    ids: tuple[str, ...] | None = None


Driver = DriverLeaf | DriverNode

_NUMERIC_OPS = {"=", "<", "<=", ">", ">=", "IN"}
#: Levels of AND and OR a driving set follows; deeper parts are only tested.
MAX_DEPTH = 4
#: Attributes with an index of the runs that a set can read a range of.
_INDEXED_ATTRIBUTES = {"start_time", "created", "Created", "end_time", "user_id", "status"}
#: The runs table's columns a filter may compare, by attribute name.
_ATTRIBUTE_COLUMNS = {
    "run_id": "run_id",
    "user_id": "user_id",
    "status": "status",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
    "start_time": "start_time",
    "end_time": "end_time",
}


#: How many index ranges the ILIKE prefixes of one filter read in all: each is four bound
#: values, in the sets' counts and again on each arm of a search's SQL, and a filter of
#: 500 such prefixes must stay within the backends' 32,766 (``parser.MAX_VALUES``).
SPELLINGS_PER_FILTER = 128


def spelling_budget(expr: Expr | None) -> int:
    """How many index ranges each ILIKE prefix of ``expr`` may read: an equal share of
    ``SPELLINGS_PER_FILTER``, at most ``MAX_SPELLINGS`` (0: none, it is a filtered scan)."""
    likes = sum(1 for c in comparisons_of(expr) if c.op == "ILIKE")
    return min(MAX_SPELLINGS, SPELLINGS_PER_FILTER // max(likes, 1))


def drivers_of(
    expr: Expr | None,
    *,
    negated: bool = False,
    depth: int = 0,
    spellings: int | None = None,
) -> Driver | None:
    """The sets that hold every match of ``expr`` (of its NOT, if ``negated``), or None
    where no index can answer it (an OR with a part that names no set, a comparison of a
    dataset, or parts nested more than ``MAX_DEPTH`` deep: each level is a nested SELECT,
    and SQLite's parser has a stack of its own). A NOT is pushed down to the comparisons
    (De Morgan's laws hold in SQL's three-valued logic)."""
    if depth > MAX_DEPTH:
        return None
    if spellings is None:
        spellings = spelling_budget(expr)
    match expr:
        case Comparison():
            if not _drivable(expr):
                return None
            return _negated(expr, spellings) if negated else DriverLeaf(expr, False, spellings)
        case Not():
            return drivers_of(expr.part, negated=not negated, depth=depth, spellings=spellings)
        case And() | Or():
            conjunction = isinstance(expr, And) != negated
            parts = [
                drivers_of(p, negated=negated, depth=depth + 1, spellings=spellings)
                for p in expr.parts
            ]
            found = [p for p in parts if p is not None]
            if not found or (not conjunction and len(found) < len(parts)):
                return None
            if conjunction:
                found = merge_ranges(found)
            if len(found) == 1:
                return found[0]
            return DriverNode("and" if conjunction else "or", tuple(found))
    return None


_LOWER = {">", ">="}
_UPPER = {"<", "<="}


def merge_ranges(parts: list[Driver]) -> list[Driver]:
    """An AND's parts with a lower and an upper bound of the same number (a metric's
    latest value, MIN() or MAX(); a param's or tag's number) as one leaf: the runs
    between both bounds are one index range, where each bound alone may name half the
    runs (``metrics.acc > 0.9 AND metrics.acc < 0.95``; bounds that cross name none,
    and the search answers at once). The first such pair of each number is merged."""
    lower: dict[tuple[str, str, str], int] = {}
    upper: dict[tuple[str, str, str], int] = {}
    for i, part in enumerate(parts):
        if not isinstance(part, DriverLeaf) or part.negated or part.within is not None:
            continue
        c = part.comparison
        if not isinstance(c.value, int | float) or not _numbered(c):
            continue
        column = (c.field.entity, c.field.key, c.field.aggregate)
        bounds = lower if c.op in _LOWER else upper if c.op in _UPPER else None
        if bounds is not None:
            bounds.setdefault(column, i)
    out, dropped = list(parts), set()
    for column, i in lower.items():
        j = upper.get(column)
        if j is None:
            continue
        first, second = sorted((i, j))
        leaf, other = out[first], out[second]
        assert isinstance(leaf, DriverLeaf) and isinstance(other, DriverLeaf)
        out[first] = msgspec.structs.replace(leaf, within=other.comparison)
        dropped.add(second)
    return [part for k, part in enumerate(out) if k not in dropped]


def _numbered(c: Comparison) -> bool:
    """Whether the comparison reads a column of numbers alone (``_number_column``)."""
    return c.field.entity == "metric" or (is_text(c) and not c.quoted)


def _number_column(c: Comparison) -> str:
    """The column of numbers a metric's or a param's or tag's number comparison reads."""
    if c.field.entity == "metric":
        return "value" if c.field.aggregate == "latest" else f"{c.field.aggregate}_value"
    return "num_value"


def leaves_of(driver: Driver) -> list[DriverLeaf]:
    if isinstance(driver, DriverLeaf):
        return [driver]
    return [leaf for part in driver.parts for leaf in leaves_of(part)]


def _zero_passes(op: str, value: object) -> bool:
    """Whether 0 passes a metric's numeric comparison (a NaN latest value is stored as 0,
    and its set holds it: not exact)."""
    values = value if isinstance(value, tuple) else (value,)
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    if len(numbers) != len(values):
        return True  # not a number: say it may
    if op in ("=", "IN"):
        return 0.0 in numbers
    bound = numbers[0]
    return {"<": 0.0 < bound, "<=": 0.0 <= bound, ">": 0.0 > bound, ">=": 0.0 >= bound}[op]


def _drivable(c: Comparison) -> bool:
    field = c.field
    if field.entity == "metric" or is_text(c):
        # Every comparison but IS NULL needs the key (at worst, its set is the runs that
        # have it); IS NULL's is the runs that do not.
        return True
    return field.entity == "attribute" and (
        field.key in _ATTRIBUTE_COLUMNS or field.key in ("created", "Created")
    )


def _attribute_scan(c: Comparison) -> bool:
    """An attribute comparison no index of the runs serves: the scope's runs, tested.
    Start time, end time, user and status have (experiment, stage, column) indexes
    (``RUN_ORDER_COLUMNS``): equality, IN and ranges read a range of them."""
    if c.field.entity != "attribute" or is_text(c):
        return False
    if c.field.key == "run_id":
        return c.op not in ("=", "IN")
    if c.field.key in _INDEXED_ATTRIBUTES:
        return c.op not in _NUMERIC_OPS
    return True


def _leaf_sql(b: SqlBuilder, c: Comparison, scope: Scope, spellings: int) -> str:
    field = c.field
    if c.op == "IS NULL" and (field.entity == "metric" or is_text(c)):
        return _missing(b, c, scope)
    if field.entity == "metric":
        column = _number_column(c)
        head = f"SELECT run_id FROM latest_metrics WHERE key = {b.param(field.key)}"
        if c.op in _NUMERIC_OPS:
            return f"{head} AND {compile_expr(b, column, c.op, c.value)}"
        return head
    if field.entity in ("parameter", "tag"):
        table = "params" if field.entity == "parameter" else "run_tags"
        return text_set(b, table, field.key, c, spellings)
    if field.key in RUN_NAME_KEYS:
        return text_set(b, "run_tags", "mlflow.runName", c, spellings)
    if field.key == "run_id" and c.op in ("=", "IN"):
        return f"SELECT run_id FROM runs WHERE {compile_expr(b, 'run_id', c.op, c.value)}"
    # The scope's runs: a start-time range reads the runs_experiment index; any other
    # attribute is tested run by run.
    column = f"s.{_ATTRIBUTE_COLUMNS.get(field.key, 'start_time')}"
    if column in ("s.user_id", "s.status"):
        column = b.text_order(column)  # as their indexes hold them (same equality)
    return (
        f"SELECT s.run_id AS run_id FROM runs s WHERE {scope(b, 's')} "
        f"AND {compile_expr(b, column, c.op, c.value)}"
    )


def _missing(b: SqlBuilder, c: Comparison, scope: Scope) -> str:
    """IS NULL: the scope's runs that lack the key (a live tag, for tags)."""
    table, key, live = _key_table(b, c)
    return (
        f"SELECT s.run_id AS run_id FROM runs s WHERE {scope(b, 's')} AND NOT EXISTS "
        f"(SELECT 1 FROM {table} k WHERE k.run_id = s.run_id AND k.key = {b.param(key)}{live})"
    )


def _key_table(b: SqlBuilder, c: Comparison) -> tuple[str, str, str]:
    """(table, key, condition for a live row on ``k``) of a keyed comparison."""
    field = c.field
    if field.entity == "metric":
        return "latest_metrics", field.key, ""
    table = "params" if field.entity == "parameter" else "run_tags"
    key = field.key if field.entity in ("parameter", "tag") else "mlflow.runName"
    return table, key, f" AND {live_tag(b, 'k.')}" if table == "run_tags" else ""


#: The comparison a NOT of a range comparison is, where the compared column holds only
#: real numbers or NULL (a value without a number fails both).
_FLIPPED_RANGES = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
#: The comparison a NOT of an (in)equality is, for any field (both unknown where either is).
_FLIPPED_INEQUALITIES = {"!=": "=", "NOT IN": "IN", "=": "!=", "IN": "NOT IN"}
#: Attributes compared as numbers (end time is NULL while a run runs: it fails both).
_TIME_ATTRIBUTES = {"start_time", "created", "Created", "end_time"}


def _negated(c: Comparison, spellings: int) -> Driver:
    """The set of NOT ``c``: the other comparison's where one says it. ``NOT params.lr <=
    0.3`` is ``params.lr > 0.3`` and ``NOT tags.t NOT IN ('a')`` is ``tags.t IN ('a')``.
    SQL's NOT of a comparison is unknown where the comparison is, and so is the other
    comparison: a run without the key, a value without a number or a NULL end time
    matches neither. A range flips for the columns that hold only numbers: a param's or
    tag's number, a metric's MIN() and MAX() (of its finite values), start and end time.
    A metric's latest value may be NaN, stored as 0 with a flag: it fails every comparison
    but !=, so the NOT of its range also matches it, and the set is the other range and
    the value 0. Sets may hold more runs than match (the search tests the filter on each):
    the set of ``value = x`` holds a NaN when x is 0."""
    field = c.field

    def leaf(op: str, value: object = c.value) -> DriverLeaf:
        return DriverLeaf(msgspec.structs.replace(c, op=op, value=value), False, spellings)

    if c.op in _FLIPPED_INEQUALITIES:
        return leaf(_FLIPPED_INEQUALITIES[c.op])
    if c.op not in _FLIPPED_RANGES:
        return DriverLeaf(c, True, spellings)
    other = leaf(_FLIPPED_RANGES[c.op])
    if field.entity == "metric" and field.aggregate == "latest":
        return DriverNode("or", (other, leaf("=", 0.0)))
    numbers = (
        (field.entity in ("parameter", "tag") and not c.quoted)
        or (field.entity == "metric" and field.aggregate in ("min", "max"))
        or (field.entity == "attribute" and field.key in _TIME_ATTRIBUTES)
    )
    return other if numbers else DriverLeaf(c, True, spellings)


def _negated_scan(c: Comparison, dialect: str) -> bool:
    if c.op == "IS NOT NULL":
        return _keyed(c)  # the runs without the key
    if c.op == "IS NULL" or c.field.entity == "metric":
        return False  # the runs with the key: an index range
    return not is_text(c) or dialect == "sqlite" or prefix_pattern(c) is not None


def _keyed(c: Comparison) -> bool:
    return c.field.entity == "metric" or is_text(c)


def _negated_sql(b: SqlBuilder, c: Comparison, scope: Scope, spellings: int) -> str:
    """The set of NOT ``c``. Only a run with the key can fail a comparison on it (one
    without is unknown, and so is its NOT); a NaN latest value fails every comparison but
    !=, so a negated metric comparison reads all the runs with the metric."""
    field = c.field
    if _keyed(c):
        if c.op == "IS NOT NULL":
            return _missing(b, c, scope)
        has_key = Comparison(field=field, op="IS NOT NULL", value=None, quoted=False, position=0)
        prefix = prefix_pattern(c)
        if b.dialect == "postgres" and prefix is not None:
            # The value index's first characters decide the prefix: a range left out.
            return f"{_leaf_sql(b, has_key, scope, spellings)} AND NOT ({prefix_range(b, prefix)})"
        if c.op == "IS NULL" or field.entity == "metric" or b.dialect != "sqlite":
            return _leaf_sql(b, has_key, scope, spellings)
        column = "num_value" if not c.quoted and c.op not in ("LIKE", "ILIKE") else "value"
        head = _leaf_sql(b, has_key, scope, spellings)
        return f"{head} AND NOT ({compile_expr(b, column, c.op, c.value)})"
    column = _ATTRIBUTE_COLUMNS.get(field.key, "start_time")
    return (
        f"SELECT s.run_id AS run_id FROM runs s WHERE {scope(b, 's')} "
        f"AND NOT ({compile_expr(b, f's.{column}', c.op, c.value)})"
    )
