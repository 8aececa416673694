"""A param's or tag's comparison as the rows of its value index that hold its matches.

On SQLite the index is (key, value): every comparison of the value reads a range of it or
filters the key's range. On PostgreSQL a btree entry cannot hold a whole value (values
reach 8,000 characters), so the index holds the first ``PG_VALUE_PREFIX`` characters
(``value_prefix``): they decide (in)equality to shorter strings and ``LIKE 'prefix%'``;
other comparisons are tested on the value too, or on the first characters with every
longer value kept (a set may hold more runs than match: the search tests the filter on
each). Used by the driving sets (``drivers.py``) and the walks' probes (``run_fields.py``).
"""

from __future__ import annotations

from trackledger.projections.search.ast import Comparison
from trackledger.projections.search.compile import compile_expr
from trackledger.projections.search.sql import (
    SqlBuilder,
    case_spellings,
    literal_prefix,
    next_prefix,
)

__all__ = [
    "PG_VALUE_PREFIX",
    "RUN_NAME_KEYS",
    "indexed_value",
    "is_text",
    "live_tag",
    "prefix_decides",
    "prefix_pattern",
    "prefix_range",
    "text_set",
]

#: The attribute names of the run name, which a filter compares as its tag.
RUN_NAME_KEYS = {"run_name", "run name", "Run name", "Run Name"}

#: Characters of a param or tag value PostgreSQL's value index holds (btree entries are
#: limited to about 2.7 kB, values reach 8,000 characters; 256 characters are at most
#: 1 kB in UTF-8).
PG_VALUE_PREFIX = 256


def indexed_value(b: SqlBuilder, alias: str = "") -> str:
    """A param's or tag's value as its value index holds it: the whole value on SQLite;
    on PostgreSQL its first ``PG_VALUE_PREFIX`` characters (a column of their own,
    ``schema.VALUE_PREFIX_COLUMN``), bytewise."""
    return f"{alias}value" if b.dialect == "sqlite" else f'{alias}value_prefix COLLATE "C"'


def live_tag(b: SqlBuilder, alias: str = "") -> str:
    """A tag that is not a deleted one's tombstone, said with the value index's column
    (its value is NULL, and so are its first characters), so a count reads the index
    alone."""
    return f"{alias}{'value' if b.dialect == 'sqlite' else 'value_prefix'} IS NOT NULL"


def is_text(c: Comparison) -> bool:
    """Params, tags and the run name (its tag)."""
    return c.field.entity in ("parameter", "tag") or (
        c.field.entity == "attribute" and c.field.key in RUN_NAME_KEYS
    )


def text_set(b: SqlBuilder, table: str, key: str, c: Comparison, spellings: int) -> str:
    """A param's or tag's comparison: an index range where the value index serves it (a
    quoted =, IN or prefix LIKE; an ILIKE prefix, a range per spelling of its case; a
    number; on SQLite, any comparison on the value, which its index holds); otherwise the
    key's range, filtered (``DriverLeaf.scan``). On PostgreSQL, where the index holds a
    value's first characters, the whole value is tested too unless they decide it."""

    def head(live: bool = False) -> str:
        # A deleted tag's value is NULL, so a comparison of the value is unknown for it:
        # only the key's own set needs it said. Said beside `value IN (...)`, SQLite read
        # the range `value > NULL` instead (the key's every value: 11 ms for 4 run names).
        alive = f" AND {live_tag(b)}" if live else ""
        return f"SELECT run_id FROM {table} WHERE key = {b.param(key)}{alive}"

    op, value = c.op, c.value
    if op in ("IS NOT NULL", "IS NULL"):
        return head(live=table == "run_tags")
    if not c.quoted and op != "LIKE" and op != "ILIKE":
        # A number, read from the (key, num_value) index; a deleted tag has none.
        return f"{head()} AND {compile_expr(b, 'num_value', op, value)}"
    if op == "ILIKE" and isinstance(value, str) and (prefixes := case_spellings(value, spellings)):
        # The spellings' ranges are disjoint (the prefixes are distinct and equally long).
        return " UNION ALL ".join(
            f"{head()} AND {prefix_range(b, prefix)} AND {_pattern(b, op, value)}"
            for prefix in prefixes
        )
    if b.dialect == "sqlite":
        return f"{head()} AND {compile_expr(b, 'value', op, value)}"  # b.like reads a range
    n = PG_VALUE_PREFIX
    if op == "LIKE" and isinstance(value, str) and literal_prefix(value):
        sql = f"{head()} AND {prefix_range(b, literal_prefix(value))}"
        if prefix_pattern(c) is not None:
            return sql  # the range holds exactly the values with that prefix
        return f"{sql} AND {_pattern(b, op, value)}"
    if op in ("LIKE", "ILIKE") and isinstance(value, str):
        return f"{head()} AND {_pattern_on_prefix(b, op, value)}"
    values = value if isinstance(value, tuple) else (value,)
    # A value whose first characters equal a shorter string is that string, and one that
    # is longer equals no such string: the first characters decide (in)equality to it.
    decided = prefix_decides(c)
    if op in ("=", "IN"):
        heads = tuple(str(v)[:n] for v in values)
        sql = f"{head()} AND {indexed_value(b)} IN {b.params_list(heads)}"
        return sql if decided else f"{sql} AND {compile_expr(b, 'value', op, value)}"
    column = "value_prefix" if decided and op in ("!=", "NOT IN") else "value"
    return f"{head()} AND {compile_expr(b, column, op, value)}"


def _pattern(b: SqlBuilder, op: str, pattern: str) -> str:
    """A LIKE or ILIKE pattern tested within a range of the value index: on SQLite, whose
    index holds the value, on it; on PostgreSQL on its first characters
    (``_pattern_on_prefix``), which the index holds: tested on the value, each entry of
    the range read its row from the table (a count of three ILIKE prefixes of 100,000
    params: 70 ms)."""
    if b.dialect == "sqlite":
        return b.like("value", pattern) if op == "LIKE" else b.ilike("value", pattern)
    return _pattern_on_prefix(b, op, pattern)


def _pattern_on_prefix(b: SqlBuilder, op: str, pattern: str) -> str:
    """PostgreSQL: the values a LIKE or ILIKE pattern with no literal prefix (``'%x'``,
    ``'%x%'``) may match, tested on their first characters, which the (key, run) index
    holds: a value shorter than them is them, and a longer one is kept, to be tested
    whole by the search (a set may hold more runs than match). Tested on the value, each
    of the key's rows was read from the table: 19 ms for 100,000 run names, 9 from the
    index alone."""
    test = b.like("value_prefix", pattern) if op == "LIKE" else b.ilike("value_prefix", pattern)
    return f"({test} OR length(value_prefix) >= {PG_VALUE_PREFIX})"


def prefix_range(b: SqlBuilder, prefix: str) -> str:
    """The values that start with ``prefix``, as an index range: of the value on SQLite,
    whose BINARY order is code point order; of its first characters, bytewise, on
    PostgreSQL."""
    column = indexed_value(b)
    if b.dialect == "postgres":
        prefix = prefix[:PG_VALUE_PREFIX]
    low = f"{column} >= {b.param(prefix)}"
    above = next_prefix(prefix)
    return f"{low} AND {column} < {b.param(above)}" if above else low


def prefix_decides(c: Comparison) -> bool:
    """Whether a param's or tag's string comparison reads the same from the value's first
    ``PG_VALUE_PREFIX`` characters as from the value: (in)equality to shorter strings, and
    ``LIKE 'prefix%'`` (``prefix_pattern``)."""
    if not is_text(c) or not c.quoted:
        return False
    if c.op in ("=", "!=", "IN", "NOT IN"):
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        return all(len(str(v)) < PG_VALUE_PREFIX for v in values)
    return prefix_pattern(c) is not None


def prefix_pattern(c: Comparison) -> str | None:
    """The prefix of a param's or tag's ``LIKE 'prefix%'`` whose first characters, as
    PostgreSQL's value index holds them, decide it; None for any other comparison."""
    if c.op != "LIKE" or not is_text(c) or not isinstance(c.value, str):
        return None
    prefix = literal_prefix(c.value)
    return prefix if c.value == f"{prefix}%" and 0 < len(prefix) <= PG_VALUE_PREFIX else None
