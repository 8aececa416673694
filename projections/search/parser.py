"""Parse filters and order_by clauses into the syntax tree.

Grammar (keywords in any case)::

    filter     := [AND] or_expr [AND] END
    or_expr    := and_expr (OR and_expr)*
    and_expr   := unary (AND unary)*
    unary      := NOT unary | '(' or_expr ')' | comparison
    comparison := field op value
                | field [NOT] IN '(' value (',' value)* ')'
                | field [NOT] (LIKE | ILIKE) value
                | field IS [NOT] NULL
    field      := (MIN | MAX | LATEST) '(' name ')' | name
    name       := entity '.' key | key
    key        := WORD ('.' WORD)* | "quoted" | `quoted`
    order_by   := field [ASC | DESC] END

MLflow's AND-only subset parses to the same comparisons MLflow reads; OR, NOT, parentheses,
IN on any field and the aggregates are trackledger's extensions.

A filter is refused beyond ``MAX_DEPTH`` parentheses and NOTs inside one another,
``MAX_COMPARISONS`` comparisons or ``MAX_VALUES`` literal values: limits far above what
people write, below what the parser's recursion, SQLite's expression depth (1000) and
PostgreSQL's query parameters (32767) take (SQLite's parser overflows near 45 NOTs).
"""

from __future__ import annotations

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
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.lexer import Token, tokenize

__all__ = [
    "ENTITY_ALIASES",
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_VALUES",
    "parse_filter",
    "parse_order_by",
]

ENTITY_ALIASES = {
    "metric": "metric",
    "metrics": "metric",
    "param": "parameter",
    "params": "parameter",
    "parameter": "parameter",
    "parameters": "parameter",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}
_AGGREGATES = {"min": "min", "max": "max", "latest": "latest"}
#: How deep NOTs and parentheses may nest. Each level is a level of recursion here and in
#: every compiler, and a level of parentheses in the SQL: a thousand "(" exhausted Python's
#: stack, and SQLite's parser stack (3.40) overflows at about 20 levels of a compiled
#: filter (an OR in an AND in ... ordered by a metric). Past the bound is a 400, not a 500.
MAX_DEPTH = 16
#: How many comparisons one filter may make: SQLite caps an expression's depth at 1,000,
#: and a chain of ORs is as deep as it is long.
MAX_COMPARISONS = 500
#: How many values one filter may list: each is a query parameter, on every arm of a
#: search ordered by a metric (three), and asyncpg sends at most 32,767 of them.
MAX_VALUES = 5000
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Parser:
    def __init__(self, text: str, what: str, entities: dict[str, str] | None = None) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.what = what
        #: The entity names this search knows (runs' by default; traces have their own).
        self.entities = entities if entities is not None else ENTITY_ALIASES
        self.entity_names = (
            "metrics, params, tags, attributes and datasets"
            if entities is None
            else ", ".join(sorted(set(entities)))
        )
        self.depth = 0
        self.comparisons = 0
        self.values = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, reason: str, token: Token | None = None) -> FilterError:
        token = token or self.tok
        return FilterError(reason, token.position, token.text, what=self.what)

    def advance(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        return self.tok.kind == "WORD" and self.tok.text.upper() in words

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.fail(f"expected {word}")
        self.advance()

    # -- filters ----------------------------------------------------------------------

    def filter(self) -> Expr | None:
        while self.keyword("AND"):
            self.advance()
        if self.tok.kind == "END":
            return None
        expr = self.or_expr()
        # MLflow tolerates a dangling AND at the end ("metrics.a > 1 AND").
        if self.keyword("AND") and self.tokens[self.i + 1].kind == "END":
            self.advance()
        if self.tok.kind != "END":
            raise self.fail("expected AND, OR or the end of the filter")
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.unary()]
        while self.keyword("AND") and self.tokens[self.i + 1].kind != "END":
            self.advance()
            while self.keyword("AND"):  # MLflow tolerates stray ANDs ("a AND AND b")
                self.advance()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Expr:
        if not (self.keyword("NOT") or self.tok.kind == "LPAREN"):
            return self.comparison()
        if self.depth == MAX_DEPTH:
            raise self.fail(f"NOT and parentheses nest more than {MAX_DEPTH} levels deep")
        self.depth += 1
        expr: Expr
        if self.advance().kind == "LPAREN":
            expr = self.or_expr()
            if self.tok.kind != "RPAREN":
                raise self.fail("expected ')'")
            self.advance()
        else:
            expr = Not(self.unary())
        self.depth -= 1
        return expr

    def comparison(self) -> Expr:
        start = self.tok
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.fail(f"a filter may make at most {MAX_COMPARISONS} comparisons")
        field = self.field()
        if self.tok.kind == "OP":
            op = _OPS.get(self.tok.text)
            if op is None:
                raise self.fail("unknown comparison operator")
            self.advance()
            value, quoted = self.value()
            return Comparison(
                field=field, op=op, value=value, quoted=quoted, position=start.position
            )
        negate = False
        if self.keyword("NOT"):
            self.advance()
            negate = True
            if not self.keyword("IN", "LIKE", "ILIKE"):
                raise self.fail("expected IN, LIKE or ILIKE after NOT")
        if self.keyword("IN"):
            self.advance()
            values = self.value_list()
            return Comparison(
                field=field,
                op="NOT IN" if negate else "IN",
                value=values,
                quoted=all(isinstance(v, str) for v in values),
                position=start.position,
            )
        if self.keyword("LIKE", "ILIKE"):
            op = self.advance().text.upper()
            value, quoted = self.value()
            comparison = Comparison(
                field=field, op=op, value=value, quoted=quoted, position=start.position
            )
            return Not(comparison) if negate else comparison
        if self.keyword("IS"):
            self.advance()
            op = "IS NULL"
            if self.keyword("NOT"):
                self.advance()
                op = "IS NOT NULL"
            self.expect_keyword("NULL")
            return Comparison(field=field, op=op, value=None, quoted=False, position=start.position)
        raise self.fail("expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS)")

    def field(self) -> Field:
        start = self.tok
        if (
            start.kind == "WORD"
            and start.text.lower() in _AGGREGATES
            and self.tokens[self.i + 1].kind == "LPAREN"
        ):
            self.advance()
            self.advance()
            inner = self.name()
            if self.tok.kind != "RPAREN":
                raise self.fail("expected ')' after the aggregated field")
            self.advance()
            if inner.entity != "metric":
                raise FilterError(
                    f"{start.text.upper()}() applies to metrics only",
                    start.position,
                    start.text,
                    what=self.what,
                )
            return Field(
                entity="metric",
                key=inner.key,
                aggregate=_AGGREGATES[start.text.lower()],
                position=start.position,
            )
        return self.name()

    def name(self) -> Field:
        first = self.tok
        if first.kind not in ("WORD", "BACKTICK", "STRING") or (
            first.kind == "STRING" and first.quote == "'"
        ):
            raise self.fail("expected a field name such as metrics.loss or params.lr")
        if first.kind == "WORD" and first.text.upper() in ("AND", "OR", "NOT", "IN", "IS"):
            raise self.fail("expected a field name, found a keyword")
        self.advance()
        first_text = first.value if first.kind != "WORD" else first.text
        if self.tok.kind != "DOT":
            return Field(entity="attribute", key=first_text, position=first.position)
        if first.kind == "STRING":
            raise self.fail("an entity type cannot be quoted with double quotes", first)
        entity = self.entities.get(first_text)
        if entity is None:
            raise FilterError(
                f"invalid entity type '{first_text}'; valid types are {self.entity_names}",
                first.position,
                first.text,
                what=self.what,
            )
        self.advance()
        return Field(entity=entity, key=self.key(), position=first.position)

    def key(self) -> str:
        tok = self.tok
        if tok.kind in ("STRING", "BACKTICK"):
            self.advance()
            return tok.value
        if tok.kind != "WORD":
            raise self.fail(
                "expected a key; quote keys with spaces, dashes or parts starting with a digit "
                'in double quotes or backticks, e.g. metrics."my-key"'
            )
        parts = [self.advance().text]
        while self.tok.kind == "DOT":
            self.advance()
            if self.tok.kind == "BACKTICK" or (self.tok.kind == "STRING" and self.tok.quote == '"'):
                parts.append(self.advance().value)  # span.attributes.`mlflow.spanType`
                continue
            if self.tok.kind != "WORD":
                raise self.fail("a key part starting with a digit or symbol must be quoted")
            parts.append(self.advance().text)
        return ".".join(parts)

    def count_value(self) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.fail(f"a filter may hold at most {MAX_VALUES} values")

    def value(self) -> tuple[Value, bool]:
        tok = self.tok
        if tok.kind in ("STRING", "NUMBER"):
            self.count_value()
        if tok.kind == "STRING":
            self.advance()
            return tok.value, True
        if tok.kind == "NUMBER":
            self.advance()
            return _number(tok.text), False
        if tok.kind == "LPAREN":
            values = self.value_list()
            return values, all(isinstance(v, str) for v in values)
        raise self.fail("expected a value: a quoted string or a number")

    def value_list(self) -> tuple[str | float | int, ...]:
        if self.tok.kind != "LPAREN":
            raise self.fail("expected '(' to open a list of values")
        self.advance()
        values: list[str | float | int] = []
        while True:
            tok = self.tok
            if tok.kind in ("STRING", "NUMBER"):
                self.count_value()
            if tok.kind == "STRING":
                values.append(tok.value)
            elif tok.kind == "NUMBER":
                values.append(_number(tok.text))
            else:
                raise self.fail("expected a quoted string or a number in the list")
            self.advance()
            if self.tok.kind == "COMMA":
                self.advance()
                continue
            if self.tok.kind == "RPAREN":
                self.advance()
                return tuple(values)
            raise self.fail("expected ',' or ')' in the list")

    # -- order_by ---------------------------------------------------------------------

    def order_key(self) -> OrderKey:
        field = self.field()
        ascending = True
        if self.keyword("ASC", "DESC"):
            ascending = self.advance().text.upper() == "ASC"
        if self.tok.kind != "END":
            raise self.fail("expected ASC, DESC or the end of the clause")
        return OrderKey(field=field, ascending=ascending)


def _number(text: str) -> float | int:
    """An int when the literal is one that fits 64 bits, else a float."""
    try:
        value = int(text)
    except ValueError:
        return float(text)
    # float() of the text, not of the int: a float of an int past 1e308 overflows, while
    # the text reads as inf, as MLflow's float(value) reads it.
    return value if -(2**63) <= value < 2**63 else float(text)


def parse_filter(text: str | None, entities: dict[str, str] | None = None) -> Expr | None:
    """The filter's tree, or None for an empty filter. ``entities`` maps the entity names
    a search knows to canonical ones (runs' names by default)."""
    if text is None or not text.strip():
        return None
    return _Parser(text, "filter", entities).filter()


def parse_order_by(clause: str, entities: dict[str, str] | None = None) -> OrderKey:
    parser = _Parser(clause, "order_by clause", entities)
    if parser.tok.kind == "END":
        raise parser.fail("empty order_by clause")
    return parser.order_key()
