"""Parameterized SQL for one backend: pattern matching, casts and collation differ.

SQL is always written with ``?`` placeholders; the PostgreSQL adapter numbers them.

MLflow's LIKE is case-sensitive on every backend and has no escape character; ILIKE is
case-insensitive. SQLite's LIKE ignores ASCII case, so on SQLite LIKE becomes GLOB with the
pattern translated; PostgreSQL has both operators and only needs its default escape turned
off.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

__all__ = ["SqlBuilder", "case_spellings", "literal_prefix", "next_prefix"]


def _like_to_glob(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def literal_prefix(pattern: str) -> str:
    """The characters a LIKE pattern starts with before its first wildcard."""
    for i, ch in enumerate(pattern):
        if ch in "%_":
            return pattern[:i]
    return pattern


#: How many spellings of an ILIKE prefix ``case_spellings`` gives at most (each an index
#: range to read).
MAX_SPELLINGS = 16

#: The characters beyond ASCII whose lower case is an ASCII letter: PostgreSQL's ILIKE
#: compares lower(text) with lower(pattern), so ``'k%'`` matches a string starting with
#: the Kelvin sign. (SQLite's LIKE folds ASCII letters only.)
_FOLDS_TO_ASCII = {"i": "\u0130", "k": "\u212a"}


def case_spellings(pattern: str, most: int = MAX_SPELLINGS) -> list[str]:
    """Prefixes of which every string an ILIKE ``pattern`` matches starts with one, on
    either backend: each spelling of the letters of its literal prefix in either case, up
    to ``most`` of them (the prefix stops short of a letter that would pass it)
    and up to its first character beyond ASCII (whose case folding depends on the
    database's locale). Empty when no such prefix is left."""
    spellings = [""]
    for ch in literal_prefix(pattern):
        if not ch.isascii():
            break
        forms = {ch.lower(), ch.upper()}
        forms.update(_FOLDS_TO_ASCII.get(ch.lower(), ""))
        if len(spellings) * len(forms) > most:
            break
        spellings = [s + form for s in spellings for form in sorted(forms)]
    return [] if spellings == [""] else spellings


def next_prefix(prefix: str) -> str | None:
    """The smallest string above every string that starts with ``prefix``, if any."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates are not characters
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _double(value: int) -> float:
    """The nearest double, infinite past its range (where float() raises)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class SqlBuilder:
    """Collects parameters in the order their placeholders appear in the SQL text."""

    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgres"):
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        self.dialect = dialect
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def number(self, value: float | int) -> str:
        """A numeric literal. An int64 takes the column's type, so an index on an integer
        column still serves the comparison; anything else is a double (SQLite cannot bind
        a wider int: it raised OverflowError, e.g. for experiment_id = '1' + 20 zeros)."""
        int64 = isinstance(value, int) and -(2**63) <= value < 2**63
        self.params.append(value if int64 or isinstance(value, float) else _double(value))
        if self.dialect == "sqlite" or int64:
            return "?"
        return "?::float8"

    def value(self, value: Any) -> str:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return self.number(value) if is_number else self.param(value)

    def params_list(self, values: tuple[Any, ...]) -> str:
        return "(" + ", ".join(self.value(v) for v in values) + ")"

    def id_rows(self, ids: tuple[str, ...]) -> str:
        """A SELECT of ``ids`` as rows of a column ``run_id``, bound as one value (a
        list of thousands would crowd out the filter's own within the backends' 32,766
        parameters)."""
        if self.dialect == "sqlite":
            listed = self.param(orjson.dumps(ids).decode())
            return f"SELECT value AS run_id FROM json_each({listed})"
        return f"SELECT unnest({self.param(list(ids))}::text[]) AS run_id"

    def json_list(self, column: str) -> str:
        """An aggregate of ``column``'s values as a JSON array (text)."""
        if self.dialect == "sqlite":
            return f"json_group_array({column})"
        return f"json_agg({column})::text"

    def like(self, column: str, pattern: str) -> str:
        if self.dialect == "sqlite":
            glob = f"{column} GLOB {self.param(_like_to_glob(pattern))}"
            prefix = literal_prefix(pattern)
            if not prefix:
                return glob
            # The same rows, said as a range too: SQLite then reads the prefix's rows from
            # a (key, value) index instead of testing every run (BINARY order is code
            # point order, so the range holds exactly the strings with that prefix).
            low = f"{column} >= {self.param(prefix)}"
            above = next_prefix(prefix)
            high = f" AND {column} < {self.param(above)}" if above else ""
            return f"({glob} AND {low}{high})"
        return f"{column} LIKE {self.param(pattern)} ESCAPE ''"

    def ilike(self, column: str, pattern: str) -> str:
        if self.dialect == "sqlite":
            return f"{column} LIKE {self.param(pattern)}"
        return f"{column} ILIKE {self.param(pattern)} ESCAPE ''"

    def text_order(self, column: str) -> str:
        """Order strings bytewise on every backend, as SQLite does by default."""
        return column if self.dialect == "sqlite" else f'{column} COLLATE "C"'
