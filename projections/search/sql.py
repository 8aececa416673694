"""Parameterized SQL for one backend: placeholders and pattern matching differ, little else.

MLflow's LIKE is case-sensitive on every backend and has no escape character; ILIKE is
case-insensitive. SQLite's LIKE ignores ASCII case, so on SQLite LIKE becomes GLOB with the
pattern translated; PostgreSQL has both operators and only needs its default escape turned
off.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SqlBuilder"]


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


class SqlBuilder:
    """Collects parameters in the order their placeholders appear in the SQL text."""

    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgres"):
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        self.dialect = dialect
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return "?" if self.dialect == "sqlite" else f"${len(self.params)}"

    def params_list(self, values: tuple[Any, ...]) -> str:
        return "(" + ", ".join(self.param(v) for v in values) + ")"

    def like(self, column: str, pattern: str) -> str:
        if self.dialect == "sqlite":
            return f"{column} GLOB {self.param(_like_to_glob(pattern))}"
        return f"{column} LIKE {self.param(pattern)} ESCAPE ''"

    def ilike(self, column: str, pattern: str) -> str:
        if self.dialect == "sqlite":
            return f"{column} LIKE {self.param(pattern)}"
        return f"{column} ILIKE {self.param(pattern)} ESCAPE ''"

    def text_order(self, column: str) -> str:
        """Order strings bytewise on every backend, as SQLite does by default."""
        return column if self.dialect == "sqlite" else f'{column} COLLATE "C"'
