"""The query generator's terms: a comparison (its text, its shape, whether MLflow's server
takes it, and its truth for a run of ``querydata``), the AND/OR/NOT nodes over them, and
their evaluation with trackledger's three-valued logic (a comparison on a key a run lacks
is unknown). Standard library only, like the rest of the generator (``querygen.py``)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from querydata import RunData

__all__ = [
    "Expr",
    "Node",
    "Term",
    "Test",
    "Truth",
    "compare",
    "evaluate",
    "fmt",
    "like",
    "number",
    "quote",
]

Truth = bool | None
Test = Callable[[RunData], Truth]


@dataclass(frozen=True)
class Term:
    """One comparison: its text, shape, whether MLflow takes it, and its truth per run."""

    text: str
    shape: str
    mlflow: bool
    test: Test
    refs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Node:
    op: str  # AND, OR, NOT
    parts: tuple[Node | Term, ...]


Expr = Node | Term


def evaluate(expr: Expr, run: RunData) -> Truth:
    if isinstance(expr, Term):
        return expr.test(run)
    if expr.op == "NOT":
        inner = evaluate(expr.parts[0], run)
        return None if inner is None else not inner
    values = [evaluate(p, run) for p in expr.parts]
    decisive = expr.op == "OR"  # OR: any True decides; AND: any False decides
    if decisive in values:
        return decisive
    if None in values:
        return None
    return not decisive


def compare(left: object, op: str, right: object) -> Truth:
    if left is None:
        return None
    if isinstance(left, float) and math.isnan(left):
        return op == "!="
    match op:
        case "=":
            return bool(left == right)
        case "!=":
            return bool(left != right)
        case "<":
            return bool(left < right)  # type: ignore[operator]
        case "<=":
            return bool(left <= right)  # type: ignore[operator]
        case ">":
            return bool(left > right)  # type: ignore[operator]
        case ">=":
            return bool(left >= right)  # type: ignore[operator]
    raise ValueError(op)


def like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL)


def number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def fmt(x: float | int) -> str:
    """A literal both MLflow's tokenizer and trackledger's read as this number."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text or "E" in text:
        text = f"{x:.15f}".rstrip("0").rstrip(".")
    return text


def quote(text: str) -> str:
    return "'" + text + "'"
