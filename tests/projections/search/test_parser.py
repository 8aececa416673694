"""The filter and order_by grammar, case by case: valid text and the tree it parses to
(positions included), invalid text and the FilterError that points at the offending token.

The run, experiment and logged-model searches all parse with these functions; what each
target then accepts (which attributes, which comparators) is checked by their compilers.
"""

from __future__ import annotations

import pytest

from tests.projections.search.grammar import render
from trackledger.projections.search import FilterError, parse_filter, parse_order_by
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
from trackledger.projections.search.parser import MAX_DEPTH


def f(entity: str, key: str, at: int = 0, aggregate: str = "latest") -> Field:
    return Field(entity=entity, key=key, aggregate=aggregate, position=at)


def c(field: Field, op: str, value: Value, quoted: bool | None = None) -> Comparison:
    if quoted is None:
        values = value if isinstance(value, tuple) else (value,)
        quoted = value is not None and all(isinstance(v, str) for v in values)
    return Comparison(field=field, op=op, value=value, quoted=quoted, position=field.position)


def _nots(n: int, expr: Expr) -> Expr:
    for _ in range(n):
        expr = Not(expr)
    return expr


VALID = [
    # MLflow's own examples and spellings.
    ("metrics.rmse < 1", c(f("metric", "rmse"), "<", 1)),
    (
        "metrics.rmse < 1 and params.model_class = 'LogisticRegression'",
        And(
            (
                c(f("metric", "rmse"), "<", 1),
                c(f("parameter", "model_class", 21), "=", "LogisticRegression"),
            )
        ),
    ),
    ("attributes.run_name = 'my run'", c(f("attribute", "run_name"), "=", "my run")),
    ("run_name LIKE 'x%'", c(f("attribute", "run_name"), "LIKE", "x%")),
    ("status != 'FAILED'", c(f("attribute", "status"), "!=", "FAILED")),
    (
        "attributes.start_time >= 1700000000000",
        c(f("attribute", "start_time"), ">=", 1700000000000),
    ),
    (
        "tags.\"mlflow.source.name\" = 'train.py'",
        c(f("tag", "mlflow.source.name"), "=", "train.py"),
    ),
    ("tags.mlflow.rootRunId = 'abc'", c(f("tag", "mlflow.rootRunId"), "=", "abc")),
    ("metrics.`f1 score` > 0.9", c(f("metric", "f1 score"), ">", 0.9)),
    ("\"run name\" = 'x'", c(f("attribute", "run name"), "=", "x")),
    (
        "params.optimizer IN ('adam', \"sgd\")",
        c(f("parameter", "optimizer"), "IN", ("adam", "sgd")),
    ),
    ("attributes.run_id not in ('a','b')", c(f("attribute", "run_id"), "NOT IN", ("a", "b"))),
    ("tags.team ILIKE '%Vision%'", c(f("tag", "team"), "ILIKE", "%Vision%")),
    ("datasets.digest = 'd1'", c(f("dataset", "digest"), "=", "d1")),
    ("metrics.a == 1", c(f("metric", "a"), "=", 1)),
    ("metrics.a <> 1", c(f("metric", "a"), "!=", 1)),
    ("metrics.a>=-1.5e-3", c(f("metric", "a"), ">=", -1.5e-3)),
    ("metrics.a = .5", c(f("metric", "a"), "=", 0.5)),
    ("metrics.a = +3", c(f("metric", "a"), "=", 3)),
    ("metrics.a = 1.", c(f("metric", "a"), "=", 1.0)),
    # An int beyond 64 bits is read as a float, as MLflow reads every metric value.
    ("metrics.a = 9223372036854775808", c(f("metric", "a"), "=", 9223372036854775808.0)),
    ("metrics.a = 9223372036854775807", c(f("metric", "a"), "=", 9223372036854775807)),
    ("metrics.a = 1e999", c(f("metric", "a"), "=", float("inf"))),
    # Regression: an int literal too large for a float raised OverflowError (a 500).
    ("metrics.a = " + "9" * 400, c(f("metric", "a"), "=", float("inf"))),
    # MLflow keeps a doubled quote as written.
    ("tags.t = 'it''s'", c(f("tag", "t"), "=", "it''s")),
    ('tags.t = "say ""hi"""', c(f("tag", "t"), "=", 'say ""hi""')),
    ("tags.t = ''", c(f("tag", "t"), "=", "")),
    # MLflow tolerates stray ANDs at the ends and doubled ones.
    ("metrics.a > 1 AND", c(f("metric", "a"), ">", 1)),
    ("AND metrics.a > 1", c(f("metric", "a", 4), ">", 1)),
    (
        "metrics.a > 1 AND AND metrics.b > 2",
        And((c(f("metric", "a"), ">", 1), c(f("metric", "b", 22), ">", 2))),
    ),
    # Entity aliases.
    ("metric.a = 1", c(f("metric", "a"), "=", 1)),
    ("param.a = 'x'", c(f("parameter", "a"), "=", "x")),
    ("parameters.a = 'x'", c(f("parameter", "a"), "=", "x")),
    ("tag.a = 'x'", c(f("tag", "a"), "=", "x")),
    ("attr.status = 'x'", c(f("attribute", "status"), "=", "x")),
    ("run.status = 'x'", c(f("attribute", "status"), "=", "x")),
    ("dataset.name = 'x'", c(f("dataset", "name"), "=", "x")),
    # trackledger's extensions.
    (
        "metrics.a > 1 OR metrics.b < 2 AND metrics.c = 3",
        Or(
            (
                c(f("metric", "a"), ">", 1),
                And((c(f("metric", "b", 17), "<", 2), c(f("metric", "c", 35), "=", 3))),
            )
        ),
    ),
    (
        "(metrics.a > 1 OR metrics.b < 2) AND metrics.c = 3",
        And(
            (
                Or((c(f("metric", "a", 1), ">", 1), c(f("metric", "b", 18), "<", 2))),
                c(f("metric", "c", 37), "=", 3),
            )
        ),
    ),
    ("NOT tags.x = 'y'", Not(c(f("tag", "x", 4), "=", "y"))),
    ("not not tags.x = 'y'", Not(Not(c(f("tag", "x", 8), "=", "y")))),
    (
        "NOT (tags.a = 'x' OR tags.b = 'y')",
        Not(Or((c(f("tag", "a", 5), "=", "x"), c(f("tag", "b", 21), "=", "y")))),
    ),
    ("tags.x NOT LIKE 'a%'", Not(c(f("tag", "x"), "LIKE", "a%"))),
    ("tags.x not ilike 'a%'", Not(c(f("tag", "x"), "ILIKE", "a%"))),
    ("params.learning_rate < 0.01", c(f("parameter", "learning_rate"), "<", 0.01)),
    ("tags.size = 5", c(f("tag", "size"), "=", 5)),
    ("params.n IN (1, 2.5, -3)", c(f("parameter", "n"), "IN", (1, 2.5, -3))),
    ("tags.x IS NULL", c(f("tag", "x"), "IS NULL", None)),
    ("tags.x is not null", c(f("tag", "x"), "IS NOT NULL", None)),
    ("MIN(metrics.loss) < 0.1", c(f("metric", "loss", aggregate="min"), "<", 0.1)),
    ("max( metrics.`acc` ) >= 1", c(f("metric", "acc", aggregate="max"), ">=", 1)),
    ("LATEST(metric.a) = 1", c(f("metric", "a"), "=", 1)),
    # The language's words are keys when they follow an entity, and attributes alone.
    ("metrics.and = 1", c(f("metric", "and"), "=", 1)),
    ("min = 1", c(f("attribute", "min"), "=", 1)),
    ("metrics.a.b.c = 1", c(f("metric", "a.b.c"), "=", 1)),
    ("metrics.`` = 1", c(f("metric", ""), "=", 1)),
    # As deep as NOT and parentheses may nest.
    ("(" * MAX_DEPTH + "tags.x = 'y'" + ")" * MAX_DEPTH, c(f("tag", "x", MAX_DEPTH), "=", "y")),
    (
        "NOT " * MAX_DEPTH + "tags.x = 'y'",
        _nots(MAX_DEPTH, c(f("tag", "x", 4 * MAX_DEPTH), "=", "y")),
    ),
    # Nothing to filter on.
    ("", None),
    ("   \t\n", None),
    ("AND", None),
]


@pytest.mark.parametrize(("text", "tree"), VALID, ids=[t[:40] for t, _ in VALID])
def test_valid_filters_parse_to_their_tree(text, tree) -> None:
    assert parse_filter(text) == tree


#: Trees the renderer can write (it has no spelling for an infinite value).
RENDERABLE = [(t, tree) for t, tree in VALID if tree is not None and "inf" not in repr(tree)]


@pytest.mark.parametrize(
    "tree", [tree for _, tree in RENDERABLE], ids=[t[:40] for t, _ in RENDERABLE]
)
def test_the_canonical_spelling_of_each_tree_parses_back(tree) -> None:
    text, expected, _ = render(tree)
    assert parse_filter(text) == expected, text


def test_none_is_an_empty_filter() -> None:
    assert parse_filter(None) is None


INVALID = [
    # (filter, position, token, what the message says)
    ("metrics.x >", 11, "", "expected a value"),
    ("metrics.x ~ 1", 10, "~", "unexpected character"),
    ("metrics.x = -", 12, "-", "unexpected character"),
    ("m.x = 1", 0, "m", "invalid entity type 'm'"),
    ("metrics.x = 'abc", 12, "'abc", "unterminated ' quote"),
    ("metrics.`abc = 1", 8, "`abc = 1", "unterminated ` quote"),
    ("metrics.1a = 1", 8, "1", "expected a key"),
    ("metrics.a.1 = 1", 10, "1", "must be quoted"),
    ("metrics.x = 1 metrics.y = 2", 14, "metrics", "expected AND, OR or the end"),
    ("(metrics.x = 1", 14, "", "expected ')'"),
    ("metrics.x = 1)", 13, ")", "expected AND, OR or the end"),
    ("metrics.x NOT = 1", 14, "=", "expected IN, LIKE or ILIKE after NOT"),
    ("metrics.x IN 1", 13, "1", "expected '('"),
    ("metrics.x IN ()", 14, ")", "expected a quoted string or a number in the list"),
    ("metrics.x IN (1 2)", 16, "2", "expected ',' or ')'"),
    ("metrics.x IN (1,)", 16, ")", "expected a quoted string or a number in the list"),
    ("MIN(params.x) > 1", 0, "MIN", "applies to metrics only"),
    ("MIN(metrics.x > 1", 14, ">", "expected ')' after the aggregated field"),
    ("metrics.x IS 1", 13, "1", "expected NULL"),
    ("metrics.x IS NOT", 16, "", "expected NULL"),
    ("metrics.x", 9, "", "expected a comparison operator"),
    ("metrics.x LIKE", 14, "", "expected a value"),
    ("'x' = 1", 0, "'x'", "expected a field name"),
    ("metrics.a = 1 OR AND metrics.b = 2", 17, "AND", "found a keyword"),
    ("metrics.a = 1 OR", 16, "", "expected a field name"),
    ("NOT", 3, "", "expected a field name"),
    ("\"tags\".x = 'a'", 0, '"tags"', "cannot be quoted with double quotes"),
    ("metrics.x = metrics.y", 12, "metrics", "expected a value"),
    ("tags.x = 'a' tags.y = 'b'", 13, "tags", "expected AND, OR or the end"),
    # Regressions: each of these raised something other than a FilterError (a 500).
    ("²", 0, "²", "unexpected character"),  # a digit to str.isdigit, but no number
    ("metrics.x = ²", 12, "²", "unexpected character"),
    ("metrics.x = 1²", 13, "²", "unexpected character"),
    # Deeper than the stack allows (RecursionError), and one level past the bound.
    ("(" * 1000 + "tags.x = 'y'" + ")" * 1000, 16, "(", "nest more than 16 levels deep"),
    ("NOT " * 17 + "tags.x = 'y'", 64, "NOT", "nest more than 16 levels deep"),
    ("(NOT " * 9 + "tags.x = 'y'" + ")" * 9, 40, "(", "nest more than 16 levels deep"),
    # Bounds that keep a filter within what SQLite and asyncpg take (see MAX_COMPARISONS).
    ("tags.t = 'a' OR " * 500 + "tags.t = 'b'", 16 * 500, "tags", "at most 500 comparisons"),
    ("tags.t IN (" + "'a', " * 5000 + "'b')", 11 + 5 * 5000, "'b'", "at most 5000 values"),
]


@pytest.mark.parametrize(
    ("text", "position", "token", "reason"), INVALID, ids=[t[:40] for t, *_ in INVALID]
)
def test_invalid_filters_point_at_the_offending_token(text, position, token, reason) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    error = raised.value
    assert (error.position, error.token) == (position, token)
    message = str(error)
    near = f"near '{token}'" if token else "at the end"
    assert message.startswith(f"Invalid filter at position {position} {near}: "), message
    assert reason in message


ORDER_BY = [
    ("metrics.loss", OrderKey(field=f("metric", "loss"))),
    ("metrics.loss DESC", OrderKey(field=f("metric", "loss"), ascending=False)),
    ("params.lr asc", OrderKey(field=f("parameter", "lr"))),
    ("start_time DESC", OrderKey(field=f("attribute", "start_time"), ascending=False)),
    ("attributes.`run name`", OrderKey(field=f("attribute", "run name"))),
    ("MAX(metrics.acc) desc", OrderKey(field=f("metric", "acc", aggregate="max"), ascending=False)),
]


@pytest.mark.parametrize(("clause", "key"), ORDER_BY, ids=[t for t, _ in ORDER_BY])
def test_order_by_clauses_parse_to_their_key(clause, key) -> None:
    assert parse_order_by(clause) == key


INVALID_ORDER_BY = [
    ("", 0, "", "empty order_by clause"),
    ("  ", 2, "", "empty order_by clause"),
    ("metrics.loss ASC DESC", 17, "DESC", "expected ASC, DESC or the end"),
    ("metrics.loss sideways", 13, "sideways", "expected ASC, DESC or the end"),
    ("metrics.", 8, "", "expected a key"),
    ("MIN(tags.x)", 0, "MIN", "applies to metrics only"),
]


@pytest.mark.parametrize(
    ("clause", "position", "token", "reason"),
    INVALID_ORDER_BY,
    ids=[t or "empty" for t, *_ in INVALID_ORDER_BY],
)
def test_invalid_order_by_clauses_point_at_the_token(clause, position, token, reason) -> None:
    with pytest.raises(FilterError) as raised:
        parse_order_by(clause)
    error = raised.value
    assert (error.position, error.token) == (position, token)
    assert str(error).startswith(f"Invalid order_by clause at position {position} ")
    assert reason in str(error)
