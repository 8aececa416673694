"""Filters as data: hypothesis strategies for syntax trees of the filter language, and a
renderer that writes a tree as filter text (in any of the spellings the language allows)
and gives back the tree the parser must read from that text, positions included.

The renderer's choices (keyword case, spaces, quotes, aliases, redundant parentheses) come
from ``choose``: hypothesis draws them in the property tests; ``canonical`` always takes the
first option, which gives one plain spelling per tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from hypothesis import strategies as st

from trackledger.projections.search.ast import (
    And,
    Comparison,
    Expr,
    Field,
    Not,
    Or,
    OrderKey,
    Value,
)

T = TypeVar("T")
Choose = Callable[[Sequence[Any]], Any]


def canonical(options: Sequence[T]) -> T:
    return options[0]


# -- strategies ----------------------------------------------------------------------------

#: Letters a key or a string may hold: identifier characters, the punctuation MLflow keys
#: often carry, spaces, quotes of every kind, and a few characters outside ASCII.
_CHARS = st.sampled_from("abcxyzAZ_019.-/: '\"`%é中🙂")
_WORDY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS"}

#: Attribute names MLflow's run search knows (the parser takes any key).
RUN_ATTRIBUTES = [
    "run_id",
    "run_name",
    "status",
    "user_id",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "lifecycle_stage",
]
DATASET_KEYS = ["name", "digest", "context"]


def _even_runs(text: str, quote: str) -> bool:
    """Whether ``text`` can sit between two ``quote``s: every run of the quote inside is
    doubled (the lexer reads a doubled quote as part of the string, kept as written)."""
    return all(len(run) % 2 == 0 for run in re.findall(f"{re.escape(quote)}+", text))


def string_quotes(value: str) -> list[str]:
    return [q for q in ("'", '"') if _even_runs(value, q)]


def key_spellings(key: str, *, bare: bool) -> list[str]:
    """Ways to write ``key`` after ``entity.`` (or alone, for a bare attribute)."""
    out = []
    parts = key.split(".")
    if bare:
        if _WORDY.fullmatch(key) and key.upper() not in _KEYWORDS:
            out.append(key)
    elif all(_WORDY.fullmatch(p) for p in parts):
        out.append(key)
    if _even_runs(key, '"'):
        out.append(f'"{key}"')
    if "`" not in key:
        out.append(f"`{key}`")
    if not bare and _even_runs(key, "'"):
        out.append(f"'{key}'")
    return out


keys = st.text(_CHARS, max_size=8).filter(lambda k: bool(key_spellings(k, bare=False)))
strings = st.text(_CHARS, max_size=8).filter(lambda s: bool(string_quotes(s)))
numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
)

fields = st.one_of(
    st.builds(
        Field,
        entity=st.just("metric"),
        key=keys,
        aggregate=st.sampled_from(["latest", "min", "max"]),
    ),
    st.builds(Field, entity=st.sampled_from(["parameter", "tag"]), key=keys),
    st.builds(Field, entity=st.just("attribute"), key=st.sampled_from(RUN_ATTRIBUTES) | keys),
    st.builds(Field, entity=st.just("dataset"), key=st.sampled_from(DATASET_KEYS)),
)

_NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">="]


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    """A comparison MLflow's grammar allows for its field, or one of trackledger's
    extensions (IN on any field, numeric params and tags, IS NULL, aggregates)."""
    field = draw(fields)
    if field.entity == "metric":
        kinds = ["number", "numbers", "null"]
    elif field.entity == "dataset":
        kinds = ["string", "like", "strings"]
    else:
        kinds = ["string", "like", "strings", "number", "numbers", "null"]
    kind = draw(st.sampled_from(kinds))
    value: Value
    if kind == "number":
        op, value = draw(st.sampled_from(_NUMERIC_OPS)), draw(numbers)
    elif kind == "string":
        op, value = draw(st.sampled_from(["=", "!="])), draw(strings)
    elif kind == "like":
        op, value = draw(st.sampled_from(["LIKE", "ILIKE"])), draw(strings)
    elif kind in ("numbers", "strings"):
        op = draw(st.sampled_from(["IN", "NOT IN"]))
        value = tuple(
            draw(st.lists(numbers if kind == "numbers" else strings, min_size=1, max_size=3))
        )
    else:
        op, value = draw(st.sampled_from(["IS NULL", "IS NOT NULL"])), None
    quoted = kind in ("string", "like", "strings")
    return Comparison(field=field, op=op, value=value, quoted=quoted, position=0)


def _grow(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(many.map(And), many.map(Or), children.map(Not))


#: Filter trees of a few comparisons under AND, OR and NOT.
filters = st.recursive(comparisons(), _grow, max_leaves=6)

order_keys = st.builds(OrderKey, field=fields, ascending=st.booleans())


# -- rendering -----------------------------------------------------------------------------

_ENTITY_SPELLINGS = {
    "metric": ["metrics", "metric"],
    "parameter": ["params", "param", "parameters", "parameter"],
    "tag": ["tags", "tag"],
    "attribute": ["attributes", "attribute", "attr", "run"],
    "dataset": ["datasets", "dataset"],
}
_OP_SPELLINGS = {"=": ["=", "=="], "!=": ["!=", "<>"]}
_SPACE = [" ", "  ", "\t", "\n"]  # where the language needs a space
_GAP = [" ", ""]  # where it does not


class Renderer:
    """Writes a tree as filter text; each method returns the node the parser must read
    back (the same node with the positions at which its text was written)."""

    def __init__(self, choose: Choose = canonical) -> None:
        self.choose = choose
        self.parts: list[str] = []
        self.at = 0
        #: How deep NOTs and parentheses nest in the text written so far, and at most.
        self.depth = 0
        self.deepest = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def put(self, text: str) -> None:
        self.parts.append(text)
        self.at += len(text)

    def space(self) -> None:
        self.put(self.choose(_SPACE))

    def gap(self) -> None:
        self.put(self.choose(_GAP))

    def enter(self) -> None:
        self.depth += 1
        self.deepest = max(self.deepest, self.depth)

    def word(self, word: str) -> None:
        self.put(self.choose([word, word.lower(), word.capitalize()]))

    # -- trees

    def filter(self, expr: Expr) -> Expr:
        """A whole filter: MLflow tolerates a stray AND at either end."""
        if self.choose([False, True]):
            self.word("AND")
            self.space()
        out = self.expr(expr, "top")
        if self.choose([False, True]):
            self.space()
            self.word("AND")
        return out

    def expr(self, expr: Expr, context: str) -> Expr:
        needed = (isinstance(expr, Or) and context in ("and", "or", "not")) or (
            isinstance(expr, And) and context in ("and", "not")
        )
        if not (needed or self.choose([False, True])):
            return self.bare(expr)
        self.put("(")
        self.enter()
        self.gap()
        out = self.bare(expr)
        self.gap()
        self.put(")")
        self.depth -= 1
        return out

    def bare(self, expr: Expr) -> Expr:
        match expr:
            case Comparison():
                return self.comparison(expr)
            case And() | Or():
                keyword, context = ("AND", "and") if isinstance(expr, And) else ("OR", "or")
                parts = []
                for i, part in enumerate(expr.parts):
                    if i:
                        self.space()
                        self.word(keyword)
                        self.space()
                    parts.append(self.expr(part, context))
                return type(expr)(tuple(parts))
            case Not():
                part = expr.part
                if (
                    isinstance(part, Comparison)
                    and part.op in ("LIKE", "ILIKE")
                    and self.choose([False, True])
                ):
                    return Not(self.comparison(part, negated=True))
                self.word("NOT")
                self.space()
                self.enter()
                out = Not(self.expr(part, "not"))
                self.depth -= 1
                return out
        raise TypeError(expr)

    def comparison(self, c: Comparison, *, negated: bool = False) -> Comparison:
        field = self.field(c.field)
        op = c.op
        if op in _OP_SPELLINGS or op in _NUMERIC_OPS:
            self.gap()
            self.put(self.choose(_OP_SPELLINGS.get(op, [op])))
            self.gap()
            self.value(c.value)
        elif op in ("IN", "NOT IN"):
            self.space()
            if op == "NOT IN":
                self.word("NOT")
                self.space()
            self.word("IN")
            self.gap()
            self.value(c.value)
        elif op in ("LIKE", "ILIKE"):
            self.space()
            if negated:
                self.word("NOT")
                self.space()
            self.word(op)
            self.space()
            self.value(c.value)
        else:
            self.space()
            self.word("IS")
            self.space()
            if op == "IS NOT NULL":
                self.word("NOT")
                self.space()
            self.word("NULL")
        return Comparison(
            field=field, op=op, value=c.value, quoted=c.quoted, position=field.position
        )

    def field(self, field: Field) -> Field:
        start = self.at
        aggregated = field.aggregate != "latest" or (
            field.entity == "metric" and self.choose([False, True])
        )
        if aggregated:
            self.word(field.aggregate.upper())
            self.put("(")
            self.gap()
        self.name(field)
        if aggregated:
            self.gap()
            self.put(")")
        return Field(entity=field.entity, key=field.key, aggregate=field.aggregate, position=start)

    def name(self, field: Field) -> None:
        bare = key_spellings(field.key, bare=True) if field.entity == "attribute" else []
        if bare and self.choose([False, True]):
            self.put(self.choose(bare))
            return
        self.put(self.choose(_ENTITY_SPELLINGS[field.entity]))
        self.put(".")
        self.put(self.choose(key_spellings(field.key, bare=False)))

    def value(self, value: Value) -> None:
        if isinstance(value, tuple):
            self.put("(")
            for i, item in enumerate(value):
                if i:
                    self.gap()
                    self.put(",")
                self.gap()
                self.value(item)
            self.gap()
            self.put(")")
        elif isinstance(value, str):
            quote = self.choose(string_quotes(value))
            self.put(f"{quote}{value}{quote}")
        elif isinstance(value, float):
            self.put(self.choose(["", "+"]) + repr(value) if value >= 0 else repr(value))
        else:
            assert isinstance(value, int)
            self.put(self.choose(["", "+"]) + str(value) if value >= 0 else str(value))

    def order_key(self, key: OrderKey) -> OrderKey:
        field = self.field(key.field)
        if not key.ascending:
            self.space()
            self.word("DESC")
        elif self.choose([False, True]):
            self.space()
            self.word("ASC")
        return OrderKey(field=field, ascending=key.ascending)


class Rendered(NamedTuple):
    text: str
    #: The tree the parser must read from ``text``.
    tree: Expr
    #: How deep NOTs and parentheses nest in ``text`` (the parser bounds it).
    depth: int


def render(expr: Expr, choose: Choose = canonical) -> Rendered:
    """``expr`` written as filter text."""
    renderer = Renderer(choose)
    out = renderer.filter(expr)
    return Rendered(renderer.text, out, renderer.deepest)


def render_order_key(key: OrderKey, choose: Choose = canonical) -> tuple[str, OrderKey]:
    renderer = Renderer(choose)
    out = renderer.order_key(key)
    return renderer.text, out
