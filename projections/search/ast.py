"""The filter language's syntax tree, shared by run and experiment searches and every backend."""

from __future__ import annotations

import msgspec

__all__ = [
    "And",
    "Comparison",
    "Expr",
    "Field",
    "Not",
    "Or",
    "OrderKey",
    "Value",
]

#: A literal: a quoted string, a number, or a parenthesized list of them.
Value = str | float | int | tuple[str | float | int, ...] | None


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """What a comparison or an ordering looks at.

    ``entity`` is canonical: ``metric``, ``parameter``, ``tag``, ``attribute`` or
    ``dataset``. ``aggregate`` is ``latest`` (the default meaning of ``metrics.x``),
    ``min`` or ``max``.
    """

    entity: str
    key: str
    aggregate: str = "latest"
    position: int = 0


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """``field op value``. ``op`` is upper case: = != < <= > >= LIKE ILIKE IN NOT IN
    IS NULL IS NOT NULL. ``quoted`` tells whether the value was written as a string."""

    field: Field
    op: str
    value: Value
    quoted: bool
    position: int


class And(msgspec.Struct, frozen=True):
    parts: tuple[Expr, ...]


class Or(msgspec.Struct, frozen=True):
    parts: tuple[Expr, ...]


class Not(msgspec.Struct, frozen=True):
    part: Expr


Expr = Comparison | And | Or | Not


class OrderKey(msgspec.Struct, frozen=True, kw_only=True):
    field: Field
    ascending: bool = True
